/* The lxcbus Cockpit page: the instance list, live from the daemon's ObjectManager.
 *
 * Plain modern JavaScript on /base1/cockpit.js, no bundler. cockpit.dbus() proxies watch the objects below
 * /org/lxcbus1 through the ObjectManager (InterfacesAdded/Removed) and PropertiesChanged: the list never
 * polls and never reloads. The only calls the page makes on its own are one GetState() per instance when
 * it starts running (for its address), retried a few times with a growing delay while the address is not
 * there yet (a DHCP lease comes after the start).
 *
 * superuser: "try" runs the bridge's bus connection as root when the Cockpit user may (administrative
 * access), as the user otherwise; polkit then decides, and its refusal (AccessDenied) is shown as
 * "not authorized". */

"use strict";

const BUS_NAME = "org.lxcbus1";
const ROOT_PATH = "/org/lxcbus1";
const INSTANCE_IFACE = "org.lxcbus1.Instance";
const ADDRESS_RETRIES_MS = [1000, 2000, 4000, 8000];

const client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
const rows = new Map();         /* object path -> { tr, cells, busy, addrTimer, addrTry, confirmDelete } */

/* ---- errors ---------------------------------------------------------------------------------------- */

const ERROR_TEXT = {
    "org.freedesktop.DBus.Error.AccessDenied": "not authorized",
    "org.freedesktop.DBus.Error.ServiceUnknown": "the lxcbus daemon is not available",
    "org.freedesktop.DBus.Error.NoReply": "the lxcbus daemon did not answer",
    "org.lxcbus1.Error.Busy": "busy with another operation",
    "org.lxcbus1.Error.InvalidState": "not possible in this state",
    "org.lxcbus1.Error.NoSuchInstance": "no such instance",
    "org.lxcbus1.Error.Timeout": "timed out",
    "org.lxcbus1.Error.LimitsExceeded": "limits exceeded",
};

/* A bus error as one readable sentence: what was tried, what went wrong, and the daemon's own message
 * (which names the cause) unless it only repeats the error name. Polkit's refusal is "not authorized". */
function errorText(what, ex) {
    const name = ex && ex.name ? ex.name : "";
    if (name === "org.freedesktop.DBus.Error.AccessDenied" ||
        (ex && (ex.problem === "access-denied" || ex.problem === "not-authorized")))
        return what + ": not authorized";
    let text = ERROR_TEXT[name] || (name ? name.replace(/^.*\./, "") : (ex && ex.problem) || "failed");
    const message = ex && ex.message ? String(ex.message) : "";
    if (message && message !== name && message !== text)
        text += " (" + message + ")";
    return what + ": " + text;
}

function showError(text) {
    document.getElementById("alert-text").textContent = text;
    document.getElementById("alert").hidden = false;
}

function clearError() {
    document.getElementById("alert").hidden = true;
    document.getElementById("alert-text").textContent = "";
}

/* ---- actions --------------------------------------------------------------------------------------- */

/* Which buttons a state offers (docs/api.md "States"); the daemon refuses anything else anyway. */
function actionsFor(state) {
    switch (state) {
    case "stopped":
        return ["Start", "Delete"];
    case "running":
        return ["Stop", "Restart", "Freeze", "Delete"];
    case "frozen":
        return ["Unfreeze", "Stop", "Delete"];
    case "error":
        return ["Delete"];
    default:            /* starting, stopping: only reads */
        return [];
    }
}

/* The method call of an action, with the options it needs in this state: a frozen instance is stopped with
 * force (the daemon refuses it otherwise), a delete that the user confirmed is forced (a running instance
 * is stopped first). Start, Stop, Restart and Delete reply when their operation ended, so a failure of the
 * work itself comes back as the call's error. */
function callFor(action, state) {
    const b = v => ({ t: "b", v });
    switch (action) {
    case "Start":
        return ["Start", "a{sv}", [{}]];
    case "Stop":
        return ["Stop", "a{sv}", [state === "frozen" ? { force: b(true) } : {}]];
    case "Restart":
        return ["Restart", "a{sv}", [{}]];
    case "Delete":
        return ["Delete", "a{sv}", [state === "stopped" ? {} : { force: b(true) }]];
    default:            /* Freeze, Unfreeze */
        return [action, "", []];
    }
}

function runAction(path, name, action) {
    const row = rows.get(path);
    const proxy = instances[path];
    if (!row || !proxy)
        return;
    if (action === "Delete" && !row.confirmDelete) {
        /* a second click confirms: no modal dialog inside Cockpit's frame */
        row.confirmDelete = true;
        render(path);
        return;
    }
    row.confirmDelete = false;
    const [method, signature, args] = callFor(action, proxy.data.State);
    row.busy = action;
    clearError();
    render(path);
    /* a stop may take its 30 s timeout and a restart a minute more: longer than D-Bus's default 25 s */
    const options = { timeout: 300000 };
    if (signature)
        options.type = signature;
    client.call(path, INSTANCE_IFACE, method, args, options)
            .catch(ex => showError(errorText(action + " " + name, ex)))
            .finally(() => {
                const r = rows.get(path);
                if (r) {
                    r.busy = null;
                    render(path);
                }
            });
}

/* ---- addresses ------------------------------------------------------------------------------------- */

/* The first IPv4 address outside the loopback, from GetState()'s "addresses" a(sss):
 * (interface, "inet" or "inet6", address/prefix). */
function firstIPv4(state) {
    const addrs = state && state.addresses ? state.addresses.v : [];
    for (const [ifname, family, addr] of addrs || []) {
        if (family === "inet" && ifname !== "lo" && !addr.startsWith("127."))
            return addr.replace(/\/\d+$/, "");
    }
    return "";
}

function cancelAddress(row) {
    if (row.addrTimer)
        clearTimeout(row.addrTimer);
    row.addrTimer = null;
}

function fetchAddress(path) {
    const row = rows.get(path);
    if (!row)
        return;
    row.addrTimer = null;
    client.call(path, INSTANCE_IFACE, "GetState", [])
            .then(([state]) => {
                const r = rows.get(path);
                const proxy = instances[path];
                if (!r || !proxy || (proxy.data.State !== "running" && proxy.data.State !== "frozen"))
                    return;
                r.address = firstIPv4(state);
                render(path);
                if (!r.address && r.addrTry < ADDRESS_RETRIES_MS.length)
                    r.addrTimer = setTimeout(() => fetchAddress(path), ADDRESS_RETRIES_MS[r.addrTry++]);
            })
            .catch(ex => console.warn("GetState", path, ex));
}

/* Called on every change of State: a start (re)reads the address, a stop forgets it. */
function stateChanged(path, state) {
    const row = rows.get(path);
    if (!row || row.lastState === state)
        return;
    row.lastState = state;
    cancelAddress(row);
    if (state === "running") {
        row.addrTry = 0;
        fetchAddress(path);
    } else if (state !== "frozen") {
        row.address = "";
    }
}

/* ---- the table ------------------------------------------------------------------------------------- */

function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {}))
        e.setAttribute(k, v);
    if (text !== undefined)
        e.textContent = text;
    return e;
}

function createRow(path) {
    const tr = el("tr", { "data-path": path });
    const cells = {};
    for (const c of ["name", "state", "address", "description", "actions"]) {
        cells[c] = el("td", { class: "col-" + c });
        tr.appendChild(cells[c]);
    }
    const row = { tr, cells, busy: null, address: "", addrTimer: null, addrTry: 0, lastState: null,
                  confirmDelete: false };
    rows.set(path, row);
    return row;
}

function render(path) {
    const proxy = instances[path];
    const row = rows.get(path) || createRow(path);
    const name = proxy.data.Name || path.replace(/^.*\//, "");
    const state = proxy.data.State || "unknown";
    row.tr.setAttribute("data-name", name);
    row.tr.setAttribute("data-state", state);
    /* the name opens the details view (details.js follows the location #/NAME) */
    row.cells.name.replaceChildren(el("a", { href: "#/" + encodeURIComponent(name), class: "name-link" }, name));
    row.cells.state.replaceChildren(el("span", { class: "badge state-" + state }, state));
    row.cells.address.textContent = row.address || (state === "running" ? "" : "\u2014");
    row.cells.description.textContent = proxy.data.Description || "";

    const buttons = actionsFor(state).map(action => {
        const label = action === "Delete" && row.confirmDelete ? "Confirm delete" : action;
        const b = el("button", { type: "button", class: "btn action-" + action.toLowerCase(),
                                 "data-action": action }, label);
        if (action === "Delete")
            b.classList.add("danger");
        if (row.busy)
            b.disabled = true;
        b.addEventListener("click", () => runAction(path, name, action));
        return b;
    });
    /* the terminal tab's "Terminal" button (terminal.js, loaded after this file) */
    if (typeof LxcbusTerminal !== "undefined")
        buttons.push(...LxcbusTerminal.buttons(name, state));
    if (row.busy)
        buttons.push(el("span", { class: "spinner", "aria-label": row.busy + " in progress" }));
    row.cells.actions.replaceChildren(...buttons);
    stateChanged(path, state);
    placeRow(row, name);
}

/* Rows stay sorted by name; a row is moved only when it is out of place. */
function placeRow(row, name) {
    const body = document.getElementById("instances-body");
    let before = null;
    for (const other of body.children) {
        if (other !== row.tr && other.getAttribute("data-name") > name) {
            before = other;
            break;
        }
    }
    if (row.tr.parentNode !== body || row.tr.nextSibling !== before)
        body.insertBefore(row.tr, before);
    updateSummary();
}

function removeRow(path) {
    const row = rows.get(path);
    if (!row)
        return;
    cancelAddress(row);
    row.tr.remove();
    rows.delete(path);
    updateSummary();
}

function updateSummary() {
    const n = rows.size;
    let running = 0;
    for (const row of rows.values())
        if (row.tr.getAttribute("data-state") === "running")
            running++;
    document.getElementById("summary").textContent = n + (n === 1 ? " instance" : " instances") +
        ", " + running + " running";
    document.getElementById("empty").hidden = n !== 0;
}

/* ---- start ----------------------------------------------------------------------------------------- */

const instances = client.proxies(INSTANCE_IFACE, ROOT_PATH);
instances.addEventListener("added", (ev, proxy) => render(proxy.path));
instances.addEventListener("changed", (ev, proxy) => render(proxy.path));
instances.addEventListener("removed", (ev, proxy) => removeRow(proxy.path));

client.addEventListener("close", (ev, options) => {
    showError(errorText("Connection to lxcbus lost", options));
});

document.getElementById("alert-close").addEventListener("click", clearError);

instances.wait()
        .then(() => {
            for (const path of Object.keys(instances).filter(p => p.startsWith("/")))
                render(path);
            updateSummary();
            document.getElementById("loading").hidden = true;
            document.body.setAttribute("data-loaded", "1");
        })
        .catch(ex => {
            document.getElementById("loading").hidden = true;
            showError(errorText("Listing instances", ex));
        });
