/* The lxcbus Cockpit page: the create dialog.
 *
 * A template (busybox) or an empty root filesystem is CreateInstance() on the bus. An import goes through
 * `lxcbusctl import NAME FILE` run by cockpit.spawn(): ImportInstance takes the tarball as an fd, which
 * Cockpit's D-Bus channel cannot pass, and a browser upload would have to be written to a file on the host
 * first anyway; so the dialog takes the path of a tarball already on the host, and lxcbusctl opens it as
 * the bridge's user (root with administrative access), the daemon never opening a path itself.
 *
 * Both wait for the end of the work (no "async"), so that whatever failed, the argument checks or the work
 * itself, is said in the dialog; the create operation shows in the operations list meanwhile. The new
 * instance appears in the list by the ObjectManager's InterfacesAdded, like any other. Uses lxcbus.js's
 * client, errorText() and ERROR_TEXT. */

"use strict";

const MANAGER_INTERFACE = "org.lxcbus1.Manager";
const CREATE_TIMEOUT_MS = 600000;       /* a big import takes a while; the daemon bounds the work itself */

/* The error names the dialog meets, in words (lxcbus.js's errorText() adds the daemon's message). */
Object.assign(ERROR_TEXT, {
    "org.lxcbus1.Error.InvalidName": "invalid name",
    "org.lxcbus1.Error.InstanceExists": "an instance of that name exists",
    "org.lxcbus1.Error.InvalidConfig": "invalid configuration",
    "org.lxcbus1.Error.NotSupported": "not supported",
    "org.lxcbus1.Error.Failed": "failed",
    "org.lxcbus1.Error.Cancelled": "cancelled",
    "org.lxcbus1.Error.Conflict": "changed meanwhile",
    "org.freedesktop.DBus.Error.InvalidArgs": "invalid arguments",
});

const createDialog = document.getElementById("create-dialog");
const createForm = document.getElementById("create-form");
let createBusy = false;

function createField(id) {
    return document.getElementById("create-" + id);
}

function createAlert(text) {
    document.getElementById("create-alert-text").textContent = text || "";
    document.getElementById("create-alert").hidden = !text;
}

function createSetBusy(busy) {
    createBusy = busy;
    createField("submit").disabled = busy;
    createField("spinner").hidden = !busy;
    for (const e of createForm.querySelectorAll("input, select"))
        e.disabled = busy;
}

function createShowSource() {
    const importing = createField("source").value === "import";
    for (const e of createForm.querySelectorAll(".import-only"))
        e.hidden = !importing;
}

/* The config keys of the form; empty fields are left out (the daemon's defaults). */
function createConfig() {
    const config = {};
    const description = createField("description").value.trim();
    const memory = createField("memory").value.trim();
    const network = createField("network").value;
    if (description)
        config.description = description;
    if (memory)
        config["limits.memory"] = memory;
    if (network)
        config["network.mode"] = network;
    return config;
}

function createOverBus(name, source, config, ephemeral) {
    const options = ephemeral ? { ephemeral: { t: "b", v: true } } : {};
    const src = source === "none" ? { type: { t: "s", v: "none" } }
        : { type: { t: "s", v: "template" }, template: { t: "s", v: source } };
    return client.call(ROOT_PATH, MANAGER_INTERFACE, "CreateInstance", [name, src, config, options],
                       { type: "sa{sv}a{ss}a{sv}", timeout: CREATE_TIMEOUT_MS });
}

/* lxcbusctl's own message on failure (its stderr) is what the dialog says. */
function importOverSpawn(name, path, config, ephemeral) {
    const argv = ["lxcbusctl", "--no-ask-password", "import", name, path];
    for (const [k, v] of Object.entries(config))
        argv.push("--config=" + k + "=" + v);
    if (ephemeral)
        argv.push("--ephemeral");
    /* a native promise: a handler of Cockpit's own promises must not throw */
    return new Promise((resolve, reject) => {
        cockpit.spawn(argv, { superuser: "try", err: "message" })
                .then(resolve, ex => {
                    const message = String(ex.message || ex.problem || "failed").trim()
                            .replace(/^lxcbusctl:\s*/, "");
                    reject({ sentence: ex.problem === "not-found" ? "lxcbusctl is not installed" : message });
                });
    });
}

function createSubmit(ev) {
    ev.preventDefault();
    if (createBusy)
        return;
    const name = createField("name").value.trim();
    const source = createField("source").value;
    const path = createField("path").value.trim();
    if (!name) {
        createAlert("Give the instance a name.");
        return;
    }
    if (source === "import" && !path.startsWith("/")) {
        createAlert("Give the absolute path of a tarball on this host.");
        return;
    }
    const config = createConfig();
    const ephemeral = createField("ephemeral").checked;
    const what = (source === "import" ? "Import " : "Create ") + name;
    createAlert("");
    createSetBusy(true);
    const work = source === "import" ? importOverSpawn(name, path, config, ephemeral)
        : createOverBus(name, source, config, ephemeral);
    work.then(() => {
        if (createDialog.open)
            createDialog.close();
    })
            .catch(ex => {
                /* a spawn's failure is lxcbusctl's sentence already; a call's is a bus error */
                const text = ex && ex.sentence ? what + ": " + ex.sentence : errorText(what, ex);
                if (createDialog.open)
                    createAlert(text);
                else
                    showError(text);    /* the dialog was closed meanwhile: say it on the list */
            })
            .finally(() => createSetBusy(false));
}

function createOpen() {
    if (createBusy) {
        createDialog.showModal();       /* the work goes on: show it again */
        return;
    }
    createForm.reset();
    createAlert("");
    createShowSource();
    createDialog.showModal();
    createField("name").focus();
}

document.getElementById("create-open").addEventListener("click", createOpen);
createField("cancel").addEventListener("click", () => createDialog.close());
createField("source").addEventListener("change", createShowSource);
createForm.addEventListener("submit", createSubmit);
