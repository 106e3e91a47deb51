// tests/browser/terminal.mjs: driver.mjs's commands for the terminal tab (cockpit/terminal.js), for
// tests/integration/test_cockpit_terminal.py. Each takes the instance's name and the session's kind
// ("shell" or "console"; default "shell").
//
//   term_open name               click the row's Terminal button, wait for the session to be open (or
//                                closed: a refusal; or unavailable); reply its state, size and status line
//   term_kind name kind          click the toolbar button of that kind in the session of name
//   term_wait name [kind] text [timeout_ms]
//                                wait until the screen shows text (the visible rows of xterm's DOM
//                                renderer, as a user sees them, trailing blanks dropped, joined by "\n");
//                                reply the screen
//   term_type name [kind] text   type text into the terminal (then Enter)
//   term_state name [kind] [state] [timeout_ms]
//                                wait for the session's state (connecting, open, closed, unavailable); reply
//                                its state, size (rows, cols), status line and screen
//   term_close name [kind]       click the tab's close button, wait until the session is gone
//   viewport width height        resize the browser's window

const DEFAULT_TIMEOUT = 30000;

const q = name => name.replace(/["\\]/g, "\\$&");
const sessionSel = (name, kind) =>
    `.terminal-session[data-name="${q(name)}"][data-kind="${kind || "shell"}"]`;
const ENDED = ':is([data-state="open"], [data-state="closed"], [data-state="unavailable"])';

// The visible rows of the session's xterm (as a user sees them), with xterm's non-breaking spaces as spaces
// and trailing blanks dropped. Inline in each page function: the page's CSP forbids building one from text.
async function describe(page, sel) {
    return await page.$eval(sel, e => ({
        state: e.getAttribute("data-state"),
        rows: Number(e.getAttribute("data-rows")),
        cols: Number(e.getAttribute("data-cols")),
        status: e.querySelector(".terminal-status").textContent,
        screen: [...e.querySelectorAll(".xterm-rows > div")]
                .map(r => r.textContent.replace(/\u00a0/g, " ").trimEnd()).join("\n").trimEnd(),
    }));
}

export function terminalCommands(getPage) {
    async function term_state({ name, kind, state, timeout_ms }) {
        const page = getPage();
        const sel = sessionSel(name, kind);
        await page.waitForSelector(state ? `${sel}[data-state="${state}"]` : sel,
                                   { timeout: timeout_ms || DEFAULT_TIMEOUT });
        return await describe(page, sel);
    }

    async function term_open({ name, timeout_ms }) {
        const page = getPage();
        await page.click(`tr[data-name="${q(name)}"] button.terminal-open`,
                         { timeout: DEFAULT_TIMEOUT });
        const sel = sessionSel(name, "shell");
        await page.waitForSelector(sel + ENDED, { timeout: timeout_ms || DEFAULT_TIMEOUT });
        return await describe(page, sel);
    }

    async function term_kind({ name, kind }) {
        const page = getPage();
        const shown = `.terminal-session[data-name="${q(name)}"]:not([hidden])`;
        await page.click(`${shown} button.terminal-kind[data-kind="${kind}"]`, { timeout: DEFAULT_TIMEOUT });
        return await term_state({ name, kind, timeout_ms: DEFAULT_TIMEOUT });
    }

    async function term_wait({ name, kind, text, timeout_ms }) {
        const page = getPage();
        const sel = sessionSel(name, kind);
        await page.waitForFunction(([s, t]) => {
            const rows = document.querySelectorAll(s + " .xterm-rows > div");
            const lines = [...rows].map(r => r.textContent.replace(/\u00a0/g, " ").trimEnd());
            return lines.join("\n").includes(t);
        }, [sel, text], { timeout: timeout_ms || DEFAULT_TIMEOUT });
        return await describe(page, sel);
    }

    async function term_type({ name, kind, text }) {
        const page = getPage();
        const sel = sessionSel(name, kind);
        // xterm.js reads the keyboard through its hidden textarea
        await page.focus(`${sel} .xterm-helper-textarea`, { timeout: DEFAULT_TIMEOUT });
        await page.keyboard.type(text);
        await page.keyboard.press("Enter");
        return {};
    }

    async function term_close({ name, kind }) {
        const page = getPage();
        const title = `${kind === "console" ? "Console" : "Shell"} of ${name}`;
        await page.click(`button.terminal-close[aria-label="Close ${q(title)}"]`,
                         { timeout: DEFAULT_TIMEOUT });
        await page.waitForSelector(sessionSel(name, kind), { state: "detached", timeout: DEFAULT_TIMEOUT });
        return {};
    }

    async function viewport({ width, height }) {
        await getPage().setViewportSize({ width, height });
        return {};
    }

    return { term_open, term_kind, term_wait, term_type, term_state, term_close, viewport };
}
