/* The lxcbus Cockpit page: the daemon's operations, live, below the list and the details.
 *
 * cockpit.dbus proxies of org.lxcbus1.Operation below /org/lxcbus1, through the same ObjectManager as the
 * instances: an operation shows when it is added or when the page finds it running, with its Stage, a
 * progress bar (Progress when ProgressValid, else an indeterminate one), Bytes and Rate as
 * PropertiesChanged brings them (the daemon sends at most about 10 a second), and a Cancel button while
 * Cancelable. Once finished it stays a while with its outcome (a failure or a cancel with its error, longer
 * than a success), then leaves the table (the daemon keeps it longer, for late readers). Operations that had finished before the page was opened are
 * not shown. Uses lxcbus.js's client, el() and errorText(), and details.js's formatBytes(). */

"use strict";

const OPERATION_IFACE = "org.lxcbus1.Operation";
const OPS_KEEP_SUCCESS_MS = 10000;     /* how long a finished operation stays: a success briefly, */
const OPS_KEEP_FAILED_MS = 60000;      /* a failure or a cancel long enough to read why */

const operations = client.proxies(OPERATION_IFACE, ROOT_PATH);
const opsRows = new Map();      /* object path -> { tr, cells, expiry, cancelling } */
let opsLoaded = false;

function opsAlert(text) {
    document.getElementById("operations-alert-text").textContent = text || "";
    document.getElementById("operations-alert").hidden = !text;
}

/* The name of an instance path: the proxy's Name, else the path's label decoded (sd_bus_path_encode():
 * "_" and two hex digits for every byte but letters and digits), for an instance not there (yet). */
function opsInstanceName(path) {
    if (!path || path === "/")
        return "all instances";
    const proxy = instances[path];
    if (proxy && proxy.data.Name)
        return proxy.data.Name;
    return path.replace(/^.*\//, "").replace(/_([0-9a-f]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16)));
}

function opsCreateRow(path) {
    const tr = el("tr", { "data-op-path": path });
    const cells = {};
    for (const c of ["kind", "instance", "progress", "bytes", "status", "actions"]) {
        cells[c] = el("td", { class: "ops-col-" + c });
        tr.appendChild(cells[c]);
    }
    const row = { tr, cells, expiry: null, cancelling: false };
    opsRows.set(path, row);
    document.getElementById("operations-body").prepend(tr);    /* newest first */
    return row;
}

function opsProgress(d) {
    const bar = el("progress", { max: "1", "aria-label": d.Kind + " progress" });
    if (d.Status === "success")
        bar.value = 1;
    else if (d.ProgressValid)
        bar.value = d.Progress;
    /* else no value: indeterminate */
    const text = el("span", { class: "op-percent" },
                    d.ProgressValid || d.Status === "success"
                        ? Math.round((d.Status === "success" ? 1 : d.Progress) * 100) + " %" : "");
    return [bar, text];
}

function opsStatus(d) {
    const badge = el("span", { class: "badge op-status-" + d.Status }, d.Status);
    if (d.Status !== "failure" && d.Status !== "cancelled")
        return [badge];
    return [badge, el("div", { class: "op-error" }, d.ErrorMessage || d.ErrorName)];
}

function opsRender(path) {
    const proxy = operations[path];
    const d = proxy.data;
    const row = opsRows.get(path) || opsCreateRow(path);
    const name = opsInstanceName(d.Instance);
    row.tr.setAttribute("data-kind", d.Kind);
    row.tr.setAttribute("data-instance", name);
    row.tr.setAttribute("data-status", d.Status);
    row.tr.setAttribute("data-bytes", String(d.Bytes || 0));

    row.cells.kind.replaceChildren(el("span", { class: "op-kind" }, d.Kind),
                                   el("div", { class: "op-stage" }, d.Stage || ""));
    row.cells.instance.textContent = name;
    row.cells.progress.replaceChildren(...opsProgress(d));
    let bytes = d.Bytes ? formatBytes(d.Bytes) : "";
    if (d.Status === "running" && d.Rate)
        bytes += " at " + formatBytes(d.Rate) + "/s";
    row.cells.bytes.textContent = bytes;
    row.cells.status.replaceChildren(...opsStatus(d));

    const buttons = [];
    if (d.Status === "running") {
        const b = el("button", { type: "button", class: "btn", "data-action": "Cancel" }, "Cancel");
        b.disabled = !d.Cancelable || row.cancelling;
        b.addEventListener("click", () => opsCancel(path));
        buttons.push(b);
    } else if (!row.expiry) {
        row.expiry = setTimeout(() => opsRemove(path),
                                d.Status === "success" ? OPS_KEEP_SUCCESS_MS : OPS_KEEP_FAILED_MS);
    }
    row.cells.actions.replaceChildren(...buttons);
    opsUpdateSection();
}

function opsRemove(path) {
    const row = opsRows.get(path);
    if (!row)
        return;
    if (row.expiry)
        clearTimeout(row.expiry);
    row.tr.remove();
    opsRows.delete(path);
    opsUpdateSection();
}

function opsUpdateSection() {
    document.getElementById("operations").hidden = opsRows.size === 0;
}

function opsCancel(path) {
    const row = opsRows.get(path);
    const proxy = operations[path];
    if (!row || !proxy)
        return;
    const what = "Cancel " + proxy.data.Kind + " of " + opsInstanceName(proxy.data.Instance);
    row.cancelling = true;
    opsAlert("");
    opsRender(path);
    client.call(path, OPERATION_IFACE, "Cancel", [])
            .catch(ex => opsAlert(errorText(what, ex)))
            .finally(() => {
                const r = opsRows.get(path);
                if (r && operations[path]) {
                    r.cancelling = false;
                    opsRender(path);
                }
            });
}

/* New operations show whatever their status; before the first listing only running ones are taken. */
function opsSeen(proxy) {
    if (opsRows.has(proxy.path) || (opsLoaded || proxy.data.Status === "running"))
        opsRender(proxy.path);
}

operations.addEventListener("added", (ev, proxy) => opsSeen(proxy));
operations.addEventListener("changed", (ev, proxy) => opsSeen(proxy));
operations.addEventListener("removed", (ev, proxy) => opsRemove(proxy.path));
document.getElementById("operations-alert-close").addEventListener("click", () => opsAlert(""));

operations.wait()
        .then(() => {
            for (const path of Object.keys(operations).filter(p => p.startsWith("/")))
                if (operations[path].data.Status === "running")
                    opsRender(path);
            opsLoaded = true;
        })
        .catch(ex => console.warn("Listing operations", ex));
