/* The lxcbus Cockpit page: the details of one instance, shown instead of the list for the location #/NAME
 * (a click on a name in the list; the browser's Back returns to the list).
 *
 * Everything but the usage figures comes from the same live proxy as the list (lxcbus.js's `instances`):
 * properties, Config, Snapshots and Generation change on the page as PropertiesChanged comes. The figures
 * of GetState() are read every STATE_REFRESH_MS while the view is open and the instance runs, and not at
 * all otherwise: the timer stops when the view closes or the instance stops.
 *
 * The configuration is edited in place and saved with one SetConfig(set, unset, {expected-generation}),
 * the generation being the one the editor started from. The form does not follow changes made meanwhile
 * (that would lose what is being typed); the daemon refuses a stale generation with Conflict, and the page
 * then says the configuration changed meanwhile and shows its current values to edit again. */

"use strict";

const STATE_REFRESH_MS = 3000;

const detailsView = {
    path: null,         /* the instance's object path, null while it is not known (yet) */
    name: null,         /* the name of the location */
    timer: null,        /* the next GetState() */
    reading: false,     /* a GetState() is under way */
    usage: null,        /* the last GetState() reply, for this path */
    editing: null,      /* { generation, config } the editor started from, or null when not editing */
    saving: false,
    gone: false,        /* the instance at path was removed */
};

function elById(id) {
    return document.getElementById(id);
}

/* ---- formatting ------------------------------------------------------------------------------------ */

/* also operations.js's */
function formatBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
        n /= 1024;
        i++;
    }
    return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}

/* µs since the epoch (0: never) as the browser's local date and time */
function formatTime(usec) {
    if (!usec)
        return "never";
    return new Date(usec / 1000).toLocaleString();
}

function yesNo(b) {
    return b ? "yes" : "no";
}

function fillProps(dl, pairs) {
    const items = [];
    for (const [term, value] of pairs) {
        const dt = el("dt", {}, term);
        const dd = el("dd", { "data-prop": term }, value === "" || value === undefined ? "\u2014" : String(value));
        items.push(dt, dd);
    }
    dl.replaceChildren(...items);
}

function detailsAlert(id, text) {
    elById(id + "-text").textContent = text || "";
    elById(id).hidden = !text;
}

/* ---- the view ---------------------------------------------------------------------------------------- */

function findInstance(name) {
    for (const path of Object.keys(instances))
        if (path.startsWith("/") && instances[path].data.Name === name)
            return path;
    return null;
}

/* Which view the location asks for: #/NAME the details of NAME, anything else the list. */
function detailsRoute() {
    const where = cockpit.location.path;
    if (where.length === 0 || !where[0]) {
        detailsClose();
        return;
    }
    const name = where[0];
    if (name !== detailsView.name) {
        detailsClose();
        detailsView.name = name;
    }
    if (!detailsView.path)
        detailsView.path = findInstance(name);
    document.querySelector("main").hidden = true;
    elById("details").hidden = false;
    detailsRender();
}

function detailsClose() {
    stopUsage();
    Object.assign(detailsView, { path: null, name: null, usage: null, editing: null, saving: false,
                                 gone: false });
    detailsAlert("details-alert", "");
    detailsAlert("config-alert", "");
    elById("details").hidden = true;
    document.querySelector("main").hidden = false;
}

function detailsRender() {
    const proxy = detailsView.path && !detailsView.gone ? instances[detailsView.path] || null : null;
    const name = detailsView.name;
    elById("details-name").textContent = name;
    elById("details-crumb").textContent = name;
    elById("details-gone").hidden = !!proxy;
    elById("details-gone").textContent = detailsView.path ? "deleted" : "no such instance";
    elById("details").setAttribute("data-name", name);
    const state = proxy ? proxy.data.State || "unknown" : "gone";
    elById("details").setAttribute("data-state", state);
    elById("details-badge").className = "badge state-" + state;
    elById("details-badge").textContent = proxy ? state : "";
    elById("details-badge").hidden = !proxy;
    renderProps(proxy);
    renderConfig(proxy);
    renderSnapshots(proxy);
    followUsage(proxy, state);
    renderUsage(proxy, state);
}

function renderProps(proxy) {
    const d = proxy ? proxy.data : {};
    if (!proxy) {
        fillProps(elById("details-props"), []);
        return;
    }
    const autostart = d.Autostart ? "yes, priority " + (d.AutostartPriority || 0) : "no";
    fillProps(elById("details-props"), [
        ["Description", d.Description],
        ["Owner", d.Owner === 0 ? "root" : "uid " + d.Owner],
        ["Created", formatTime(d.CreatedAt)],
        ["Last started", formatTime(d.LastUsedAt)],
        ["Autostart", autostart],
        ["Ephemeral", yesNo(d.Ephemeral)],
        ["Unit", d.Unit],
        ["Init pid", d.Pid || ""],
    ]);
}

function renderSnapshots(proxy) {
    const snaps = proxy && proxy.data.Snapshots ? proxy.data.Snapshots : [];
    elById("snapshots-body").replaceChildren(...snaps.map(([name, at]) => {
        const tr = el("tr", { "data-snapshot": name });
        tr.append(el("td", {}, name), el("td", {}, formatTime(at)));
        return tr;
    }));
    elById("snapshots-empty").hidden = snaps.length !== 0;
}

/* ---- usage: GetState() while open and running ---------------------------------------------------------- */

function stopUsage() {
    if (detailsView.timer)
        clearTimeout(detailsView.timer);
    detailsView.timer = null;
    elById("details").setAttribute("data-usage-timer", "off");
}

/* Start or stop the refresh as the state asks. A reply that comes for a view since closed, or for
 * another instance, is dropped. */
function followUsage(proxy, state) {
    const wanted = proxy && state === "running";
    if (!wanted) {
        stopUsage();
        if (state !== "frozen")
            detailsView.usage = null;
        return;
    }
    if (!detailsView.timer && !detailsView.reading)
        readUsage();
}

function readUsage() {
    const path = detailsView.path;
    detailsView.timer = null;
    detailsView.reading = true;
    elById("details").setAttribute("data-usage-timer", "on");
    client.call(path, INSTANCE_IFACE, "GetState", [])
            .then(([state]) => {
                if (detailsView.path !== path)
                    return;
                detailsView.usage = state;
                const reads = Number(document.body.getAttribute("data-usage-reads") || 0) + 1;
                document.body.setAttribute("data-usage-reads", String(reads));
            })
            .catch(ex => {
                if (detailsView.path === path)
                    console.warn("GetState", path, ex);
            })
            .finally(() => {
                detailsView.reading = false;
                if (detailsView.path !== path)
                    return;
                const proxy = detailsView.gone ? null : instances[path];
                const state = proxy ? proxy.data.State : "gone";
                renderUsage(proxy, state);
                if (proxy && state === "running")
                    detailsView.timer = setTimeout(readUsage, STATE_REFRESH_MS);
                else
                    stopUsage();
            });
}

function usageValue(state, key) {
    return state && state[key] ? state[key].v : undefined;
}

function renderUsage(proxy, state) {
    const u = detailsView.usage;
    const running = state === "running" || state === "frozen";
    elById("usage-note").textContent = !proxy ? "" : state === "running"
        ? "refreshed every " + STATE_REFRESH_MS / 1000 + " s" : running ? "frozen" : "not running";
    if (!running || !u) {
        fillProps(elById("details-usage"), running ? [["Reading\u2026", ""]] : []);
        return;
    }
    const memory = usageValue(u, "memory-bytes");
    const limit = proxy.data.Config ? proxy.data.Config["limits.memory"] : undefined;
    const cpu = usageValue(u, "cpu-ns");
    const addresses = (usageValue(u, "addresses") || [])
            .filter(([ifname]) => ifname !== "lo")
            .map(([ifname, family, addr]) => addr + " (" + ifname + ")");
    const pairs = [
        ["Memory", memory === undefined ? "" : formatBytes(memory) + (limit ? " of " + limit : "")],
        ["CPU time", cpu === undefined ? "" : (cpu / 1e9).toFixed(2) + " s"],
        ["Tasks", usageValue(u, "tasks")],
        ["Addresses", addresses.join(", ")],
    ];
    const network = usageValue(u, "network") || {};
    for (const ifname of Object.keys(network).sort()) {
        if (ifname === "lo")
            continue;
        const [rx, tx] = network[ifname];
        pairs.push(["Network " + ifname, formatBytes(rx) + " received, " + formatBytes(tx) + " sent"]);
    }
    fillProps(elById("details-usage"), pairs);
}

/* ---- configuration ------------------------------------------------------------------------------------- */

function configRow(key, value, editing) {
    const tr = el("tr", { "data-key": key });
    tr.append(el("td", { class: "key" }, key));
    const td = el("td", { class: "value" });
    if (editing) {
        const input = el("input", { type: "text", class: "config-value", "aria-label": key,
                                    spellcheck: "false" });
        input.value = value;
        td.append(input);
    } else {
        td.textContent = value;
    }
    tr.append(td);
    const remove = el("td", { class: "remove-col" });
    if (editing) {
        const b = el("button", { type: "button", class: "link config-remove", "aria-label": "Remove " + key,
                                 title: "Remove" }, "\u00d7");
        b.addEventListener("click", () => {
            tr.classList.toggle("removed");
            tr.querySelector("input").disabled = tr.classList.contains("removed");
        });
        remove.append(b);
    }
    tr.append(remove);
    return tr;
}

/* A row for a new key; typing into the last one adds another. */
function newConfigRow() {
    const tr = el("tr", { class: "new-key" });
    const key = el("input", { type: "text", class: "config-new-key", placeholder: "new key, e.g. limits.tasks",
                              "aria-label": "New key", spellcheck: "false" });
    const value = el("input", { type: "text", class: "config-new-value", placeholder: "value",
                                "aria-label": "New value", spellcheck: "false" });
    key.addEventListener("input", () => {
        if (key.value && tr === elById("config-body").lastElementChild)
            elById("config-body").append(newConfigRow());
    });
    const k = el("td", { class: "key" });
    const v = el("td", { class: "value" });
    k.append(key);
    v.append(value);
    tr.append(k, v, el("td", { class: "remove-col" }));
    return tr;
}

function renderConfig(proxy) {
    const editing = detailsView.editing;
    elById("config-edit").hidden = !!editing;
    elById("config-edit").disabled = !proxy;
    elById("config-save").hidden = !editing;
    elById("config-cancel").hidden = !editing;
    elById("config-save").disabled = detailsView.saving;
    elById("config-generation").textContent = proxy ? "generation " + proxy.data.Generation : "";
    if (editing) {
        if (!elById("config-body").querySelector("input"))
            fillConfigForm(editing.config);
        return;
    }
    const config = proxy && proxy.data.Config ? proxy.data.Config : {};
    elById("config-body").replaceChildren(...Object.keys(config).sort()
            .map(k => configRow(k, config[k], false)));
}

function fillConfigForm(config) {
    elById("config-body").replaceChildren(...Object.keys(config).sort().map(k => configRow(k, config[k], true)),
                                     newConfigRow());
}

/* What the form changes against the config it started from: { set, unset }. */
function configChanges() {
    const base = detailsView.editing.config;
    const set = {};
    const unset = [];
    for (const tr of elById("config-body").querySelectorAll("tr[data-key]")) {
        const key = tr.getAttribute("data-key");
        const value = tr.querySelector("input").value;
        if (tr.classList.contains("removed"))
            unset.push(key);
        else if (value !== base[key])
            set[key] = value;
    }
    for (const tr of elById("config-body").querySelectorAll("tr.new-key")) {
        const key = tr.querySelector(".config-new-key").value.trim();
        if (key)
            set[key] = tr.querySelector(".config-new-value").value;
    }
    return { set, unset };
}

function configEdit() {
    const proxy = instances[detailsView.path];
    if (!proxy)
        return;
    detailsView.editing = { generation: proxy.data.Generation, config: { ...(proxy.data.Config || {}) } };
    detailsAlert("config-alert", "");
    elById("config-body").replaceChildren();
    renderConfig(proxy);
    const first = elById("config-body").querySelector("input");
    if (first)
        first.focus();
}

function configStopEditing() {
    detailsView.editing = null;
    detailsView.saving = false;
    renderConfig(instances[detailsView.path]);
}

function configSave() {
    const path = detailsView.path;
    const editing = detailsView.editing;
    if (!editing || detailsView.saving)
        return;
    const { set, unset } = configChanges();
    if (Object.keys(set).length === 0 && unset.length === 0) {
        configStopEditing();
        return;
    }
    detailsView.saving = true;
    detailsAlert("config-alert", "");
    renderConfig(instances[path]);
    const options = { "expected-generation": { t: "t", v: editing.generation } };
    client.call(path, INSTANCE_IFACE, "SetConfig", [set, unset, options], { type: "a{ss}asa{sv}" })
            .then(() => {
                if (detailsView.path === path && detailsView.editing === editing)
                    configStopEditing();
            })
            .catch(ex => {
                if (detailsView.path !== path || detailsView.editing !== editing)
                    return;
                detailsView.saving = false;
                const proxy = instances[path];
                if (ex.name === "org.lxcbus1.Error.Conflict" && proxy) {
                    /* start again from what is there now */
                    detailsView.editing = { generation: proxy.data.Generation,
                                            config: { ...(proxy.data.Config || {}) } };
                    fillConfigForm(detailsView.editing.config);
                    detailsAlert("config-alert", "The configuration was changed meanwhile (generation " +
                                 editing.generation + " is now " + proxy.data.Generation + "): these are " +
                                 "its current values. Make your change again.");
                } else {
                    detailsAlert("config-alert", errorText("Save configuration of " + detailsView.name, ex));
                }
                renderConfig(proxy);
            });
}

/* ---- wiring ------------------------------------------------------------------------------------------- */

/* The proxy of the instance shown came, changed or went. */
function detailsFollow(proxy, removed) {
    if (!detailsView.name)
        return;
    if (removed) {
        if (proxy.path !== detailsView.path)
            return;
        stopUsage();
        detailsView.editing = null;
        detailsView.gone = true;
    } else if (proxy.path !== detailsView.path || detailsView.gone) {
        if (proxy.data.Name !== detailsView.name)
            return;
        detailsView.path = proxy.path;      /* created (again) under the name shown */
        detailsView.gone = false;
    }
    detailsRender();
}

instances.addEventListener("added", (ev, proxy) => detailsFollow(proxy, false));
instances.addEventListener("changed", (ev, proxy) => detailsFollow(proxy, false));
instances.addEventListener("removed", (ev, proxy) => detailsFollow(proxy, true));
cockpit.addEventListener("locationchanged", detailsRoute);
elById("config-edit").addEventListener("click", configEdit);
elById("config-save").addEventListener("click", configSave);
elById("config-cancel").addEventListener("click", () => {
    detailsAlert("config-alert", "");
    configStopEditing();
});
elById("details-alert-close").addEventListener("click", () => detailsAlert("details-alert", ""));
instances.wait().then(detailsRoute, () => {});
