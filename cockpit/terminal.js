/* The terminal tab of the lxcbus Cockpit page: a shell (lxcbusctl exec -t) or the console (lxcbusctl
 * console) of a running instance, in xterm.js, one tab per session below the list.
 *
 * Cockpit's D-Bus channel cannot pass the terminal fd that ExecPty and OpenConsole return, so, as
 * cockpit-machines does with "virsh console", each session spawns lxcbusctl on a pty of the bridge through a
 * stream channel (cockpit.channel({payload: "stream", spawn, pty: true})), and lxcbusctl copies between that
 * pty and the instance's terminal. Bytes go as they are both ways (a binary channel: xterm.js decodes UTF-8
 * across chunk boundaries). The size of the xterm screen goes to the bridge as the channel's "window"
 * option, at the open and on every resize; the bridge sets it on lxcbusctl's pty, and lxcbusctl passes it on
 * to the instance's terminal at the SIGWINCH that follows.
 *
 * superuser: "try" runs lxcbusctl as root when the Cockpit session has administrative access, as the user
 * otherwise; polkit then decides as for lxcbusctl on a shell. --no-ask-password: Cockpit's administrative
 * access is the way to more rights, not a password prompt of pkttyagent inside the terminal. lxcbusctl's
 * refusal ("lxcbusctl: ...: access denied (...)") stays in the terminal as it printed it, and the line under
 * the terminal says "not authorized".
 *
 * Closing a tab closes its channel: the bridge closes the master of lxcbusctl's pty, the kernel sends
 * lxcbusctl (its session leader) SIGHUP, lxcbusctl passes it on to the shell (Process.Signal) and exits
 * once the shell has ended; "console" just ends at the SIGHUP.
 *
 * xterm.js comes from npm (cockpit/package.json), installed next to the page as xterm/ by meson
 * (cockpit/install-xterm.sh); without it the page works and a terminal tab says "terminal unavailable:
 * xterm.js not installed". Its DOM renderer writes the colours and the cell sizes into <style> elements,
 * which Cockpit's default policy (default-src 'self') blocks: text black on black. Hence "style-src 'self'
 * 'unsafe-inline'" in manifest.json; scripts stay 'self' only, and the page never builds HTML from text. */

"use strict";

const LxcbusTerminal = (() => {
    /* bash if the instance has it, else sh; a login shell, so that /etc/profile sets PATH and the prompt */
    const SHELL = "command -v bash >/dev/null 2>&1 && exec bash -l; exec sh -l";
    const KINDS = {
        shell: {
            label: "Shell",
            argv: name => ["lxcbusctl", "exec", "--no-ask-password", "-t", "--", name,
                           "/bin/sh", "-c", SHELL],
        },
        console: {
            label: "Console",
            argv: name => ["lxcbusctl", "console", "--no-ask-password", "--", name],
        },
    };
    const UNAVAILABLE = "terminal unavailable: xterm.js not installed";
    const TAIL_CHARS = 1000;            /* output kept to recognize lxcbusctl's refusal */

    const sessions = new Map();         /* "NAME\nKIND" -> Session */
    const encoder = new TextEncoder();
    let panel = null;                   /* { section, tabs, body } */
    let active = null;
    /* el(tag, attrs, text): lxcbus.js's, which this page loads first */

    function available() {
        return typeof window.Terminal === "function" && typeof window.FitAddon === "object";
    }

    /* The section below the list, made at the first open. */
    function getPanel() {
        if (panel)
            return panel;
        const section = el("section", { id: "terminal-panel", class: "terminal-panel",
                                        "aria-label": "Terminals" });
        const tabs = el("div", { class: "terminal-tabs", role: "tablist" });
        const body = el("div", { class: "terminal-body" });
        section.append(tabs, body);
        document.querySelector("main").appendChild(section);
        panel = { section, tabs, body };
        return panel;
    }

    /* What a closed channel means, in words: lxcbusctl's refusal, a problem of the bridge, or how the
     * command ended. */
    function endText(options, tail) {
        const lastLines = tail.split(/\r?\n/).slice(-4);
        if (lastLines.some(l => l.startsWith("lxcbusctl: ") && /\baccess denied\b/.test(l)))
            return "not authorized";
        if (options.problem === "access-denied" || options.problem === "not-authorized")
            return "not authorized";
        if (options.problem === "not-found")
            return "lxcbusctl not found";
        if (options.problem)
            return "failed (" + (options.message || options.problem) + ")";
        if (options["exit-signal"])
            return "ended by signal " + options["exit-signal"];
        const status = options["exit-status"];
        if (status === 127 && /couldn't execute/.test(tail))
            return "lxcbusctl not found";
        if (status)
            return "ended (exit status " + status + ")";
        return "ended";
    }

    class Session {
        constructor(name, kind) {
            this.name = name;
            this.kind = kind;
            this.title = KINDS[kind].label + " of " + name;
            this.channel = null;
            this.term = null;
            this.closing = false;

            const p = getPanel();
            this.tab = el("div", { class: "terminal-tab", role: "presentation" });
            this.tabButton = el("button", { type: "button", class: "link terminal-tab-select", role: "tab" },
                                this.title);
            this.tabButton.addEventListener("click", () => activate(this));
            this.closeButton = el("button", { type: "button", class: "link terminal-close",
                                              "aria-label": "Close " + this.title }, "\u00d7");
            this.closeButton.addEventListener("click", () => this.close());
            this.tab.append(this.tabButton, this.closeButton);
            p.tabs.appendChild(this.tab);

            this.root = el("div", { class: "terminal-session", role: "tabpanel", "data-name": name,
                                    "data-kind": kind, "data-state": "connecting" });
            const bar = el("div", { class: "terminal-toolbar" });
            for (const k of Object.keys(KINDS)) {
                const b = el("button", { type: "button", class: "btn terminal-kind", "data-kind": k },
                             KINDS[k].label);
                b.disabled = k === kind;
                b.addEventListener("click", () => open(name, k));
                bar.appendChild(b);
            }
            this.reconnectButton = el("button", { type: "button", class: "btn terminal-reconnect" },
                                      "Reconnect");
            this.reconnectButton.hidden = true;
            this.reconnectButton.addEventListener("click", () => this.connect());
            bar.appendChild(this.reconnectButton);
            this.screen = el("div", { class: "terminal-screen" });
            this.status = el("p", { class: "terminal-status", role: "status" });
            this.root.append(bar, this.screen, this.status);
            p.body.appendChild(this.root);
        }

        setState(state, text) {
            this.root.setAttribute("data-state", state);
            this.status.textContent = text ? this.title + ": " + text : "";
            this.reconnectButton.hidden = state !== "closed" || !available();
        }

        /* A new xterm and a new lxcbusctl; a reconnect starts afresh. */
        connect() {
            this.disconnect();
            this.screen.replaceChildren();
            if (!available()) {
                this.setState("unavailable", UNAVAILABLE);
                return;
            }
            this.closing = false;
            this.tail = "";
            this.decoder = new TextDecoder();
            this.term = new window.Terminal({
                cursorBlink: true,
                fontSize: 14,
                scrollback: 5000,
                fontFamily: "Menlo, Monaco, Consolas, \"DejaVu Sans Mono\", monospace",
            });
            this.fit = new window.FitAddon.FitAddon();
            this.term.loadAddon(this.fit);
            this.term.open(this.screen);
            this.fitNow();
            this.setState("connecting", "connecting\u2026");

            const channel = cockpit.channel({
                payload: "stream",
                spawn: KINDS[this.kind].argv(this.name),
                pty: true,
                binary: true,
                superuser: "try",
                environ: ["TERM=xterm-256color"],
                window: { rows: this.term.rows, cols: this.term.cols },
            });
            this.channel = channel;
            channel.addEventListener("ready", () => this.opened(channel));
            channel.addEventListener("message", (ev, data) => {
                this.opened(channel);
                this.term.write(data);
                this.tail = (this.tail + this.decoder.decode(data, { stream: true })).slice(-TAIL_CHARS);
            });
            channel.addEventListener("close", (ev, options) => this.ended(channel, options || {}));
            this.term.onData(data => this.send(encoder.encode(data)));
            /* mouse reports in the X10 encoding: bytes, not UTF-8 */
            this.term.onBinary(data => this.send(Uint8Array.from(data, c => c.charCodeAt(0) & 0xff)));
            this.term.onResize(({ rows, cols }) => {
                this.root.setAttribute("data-rows", rows);
                this.root.setAttribute("data-cols", cols);
                if (this.channel && this.channel.valid)
                    this.channel.control({ window: { rows, cols } });
            });
            this.root.setAttribute("data-rows", this.term.rows);
            this.root.setAttribute("data-cols", this.term.cols);
            this.observer = new ResizeObserver(() => this.fitNow());
            this.observer.observe(this.screen);
            this.term.focus();
        }

        opened(channel) {
            if (channel === this.channel && this.root.getAttribute("data-state") === "connecting")
                this.setState("open", "");
        }

        send(bytes) {
            if (this.channel && this.channel.valid)
                this.channel.send(bytes);
        }

        /* the screen's size to the space it has; nothing while it is hidden (it has none) */
        fitNow() {
            if (this.term && this.root.offsetParent !== null)
                this.fit.fit();
        }

        ended(channel, options) {
            if (channel !== this.channel || this.closing)
                return;
            this.tail += this.decoder.decode();
            const text = endText(options, this.tail);
            this.term.write("\r\n\x1b[2m[" + text + "]\x1b[0m\r\n");
            this.setState("closed", text);
        }

        /* Closes the channel (the bridge then ends lxcbusctl) and drops the xterm. */
        disconnect() {
            this.closing = true;
            if (this.channel && this.channel.valid)
                this.channel.close();
            this.channel = null;
            if (this.observer)
                this.observer.disconnect();
            this.observer = null;
            if (this.term)
                this.term.dispose();
            this.term = null;
        }

        close() {
            this.disconnect();
            this.tab.remove();
            this.root.remove();
            sessions.delete(this.name + "\n" + this.kind);
            if (active === this) {
                active = null;
                const next = [...sessions.values()].pop();
                if (next)
                    activate(next);
            }
            if (sessions.size === 0)
                panel.section.hidden = true;
        }
    }

    function activate(session) {
        active = session;
        for (const s of sessions.values()) {
            s.root.hidden = s !== session;
            s.tab.classList.toggle("active", s === session);
            s.tabButton.setAttribute("aria-selected", s === session ? "true" : "false");
        }
        panel.section.hidden = false;
        session.fitNow();
        if (session.term)
            session.term.focus();
    }

    /* Opens (or shows again) the session of that kind with the instance. */
    function open(name, kind) {
        const key = name + "\n" + kind;
        let session = sessions.get(key);
        if (!session) {
            session = new Session(name, kind);
            sessions.set(key, session);
            activate(session);
            session.connect();
        } else {
            activate(session);
        }
        panel.section.scrollIntoView({ block: "nearest" });
    }

    /* The hook for lxcbus.js: the row's "Terminal" button, for a running instance. */
    function buttons(name, state) {
        if (state !== "running")
            return [];
        const b = el("button", { type: "button", class: "btn terminal-open", "data-terminal": name,
                                 "aria-label": "Open a terminal in " + name }, "Terminal");
        b.addEventListener("click", () => open(name, "shell"));
        return [b];
    }

    return { buttons, open };
})();
