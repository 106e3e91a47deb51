// tests/browser/driver.mjs: Debian's chromium, headless, driven by playwright-core, for the Cockpit page's
// tests (tests/integration/test_cockpit.py). A line protocol so that the test can change the daemon's
// state over the bus between two looks at the same page: one JSON command per line on stdin, one JSON
// reply per line on stdout ({"ok": true, ...} or {"ok": false, "error": "..."}); the browser's console
// and page errors go to stderr. It downloads no browser: executablePath is /usr/bin/chromium.
//
// Commands ("cmd" and its arguments):
//   open url                 load the page, wait until its list is loaded (body[data-loaded]); reply how
//                            long that took (ms) and how many rows it shows
//   row name [state] [timeout_ms] [address]
//                            wait for the instance's row (in that state; with a non-empty address cell
//                            when address is true), reply its state, address, description and action
//                            buttons
//   gone name [timeout_ms]   wait until the row is gone
//   click name action        click one of the row's action buttons
//   alert [timeout_ms]       wait for the error banner, reply its text
//   loads                    how many times the page was loaded (a reload would count)
//   screenshot path          a PNG of the page
//   term_*, viewport         the terminal tab's: see terminal.mjs
//   quit
// and the generic commands of dom.mjs (fill, choose, press, text, value, attr, texts, until, hash), by
// CSS selector, for test_cockpit_details.py.
import { chromium } from "playwright-core";
import readline from "node:readline";
import { domCommands } from "./dom.mjs";
import { terminalCommands } from "./terminal.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const DEFAULT_TIMEOUT = 30000;

let browser = null;
let page = null;
let loads = 0;

const rowSel = name => `tr[data-name="${name.replace(/["\\]/g, "\\$&")}"]`;

async function open({ url }) {
    if (!browser)
        browser = await chromium.launch({
            executablePath: CHROMIUM,
            headless: true,
            // as root in the test host: no user namespace sandbox; its /dev has no usable /dev/shm
            args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        });
    page = await browser.newPage({ viewport: { width: 1100, height: 520 } });
    page.on("console", m => process.stderr.write(`[console.${m.type()}] ${m.text()}\n`));
    page.on("pageerror", e => process.stderr.write(`[pageerror] ${e.message}\n`));
    page.on("load", () => loads++);
    const t0 = Date.now();
    await page.goto(url);
    await page.waitForSelector("body[data-loaded]", { timeout: DEFAULT_TIMEOUT });
    return { ms: Date.now() - t0, rows: await page.locator("tr[data-name]").count() };
}

async function row({ name, state, timeout_ms, address }) {
    let sel = rowSel(name);
    if (state)
        sel += `[data-state="${state}"]`;
    const tr = await page.waitForSelector(sel, { timeout: timeout_ms || DEFAULT_TIMEOUT });
    if (address)
        await page.waitForFunction(s => {
            const td = document.querySelector(s + " td.col-address");
            return td && /^\d+\.\d+\.\d+\.\d+$/.test(td.textContent);
        }, sel, { timeout: timeout_ms || DEFAULT_TIMEOUT });
    return await tr.evaluate(e => ({
        state: e.getAttribute("data-state"),
        badge: e.querySelector(".badge").textContent,
        address: e.querySelector("td.col-address").textContent,
        description: e.querySelector("td.col-description").textContent,
        buttons: [...e.querySelectorAll("button[data-action]")].map(b => b.textContent),
    }));
}

async function gone({ name, timeout_ms }) {
    await page.waitForSelector(rowSel(name), { state: "detached", timeout: timeout_ms || DEFAULT_TIMEOUT });
    return {};
}

async function click({ name, action }) {
    await page.click(`${rowSel(name)} button[data-action="${action}"]`, { timeout: DEFAULT_TIMEOUT });
    return {};
}

async function alert({ timeout_ms }) {
    await page.waitForSelector("#alert:not([hidden])", { timeout: timeout_ms || DEFAULT_TIMEOUT });
    return { text: await page.textContent("#alert-text") };
}

async function screenshot({ path }) {
    await page.mouse.move(0, 0);        // no button left in its hover colour
    await page.screenshot({ path, fullPage: true });
    return {};
}

const commands = { open, row, gone, click, alert, screenshot, loads: async () => ({ loads }) };
// fill, choose, press, text, value, attr, texts, until, hash: by CSS selector (dom.mjs)
Object.assign(commands, domCommands(() => page));
// the terminal tab's (tests/browser/terminal.mjs)
Object.assign(commands, terminalCommands(() => page));

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
    if (!line.trim())
        continue;
    let reply;
    try {
        const c = JSON.parse(line);
        if (c.cmd === "quit")
            break;
        if (!commands[c.cmd])
            throw new Error(`unknown command ${c.cmd}`);
        reply = { ok: true, ...(await commands[c.cmd](c)) };
    } catch (e) {
        reply = { ok: false, error: String(e && e.message || e) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
}
if (browser)
    await browser.close();
// the test's pipe to our stdin stays open, and would keep node running
process.exit(0);
