// tests/browser/dom.mjs: generic driver.mjs commands by CSS selector, for the tests of the create dialog,
// the details view and the operations (tests/integration/test_cockpit_details.py). Each waits (up to
// timeout_ms, 30 s by default) for its element first.
//
//   fill sel value               type value into an input (replacing what is there)
//   choose sel value             pick an option of a select
//   press sel                    click an element
//   text sel                     the element's text
//   value sel                    an input's or a progress bar's value
//   attr sel name                an attribute
//   texts sel                    the texts of every element matching sel (no wait; [] if none)
//   until sel [pattern] [state]  wait until sel is attached (state "detached": gone; "hidden"), or until
//                                its text matches the regular expression pattern; reply its text
//   hash value                   set location.hash (the page's own route, as a link would)
const DEFAULT_TIMEOUT = 30000;

export function domCommands(getPage) {
    const wait = async (sel, timeout_ms, state) =>
        await getPage().waitForSelector(sel, { state: state || "attached", timeout: timeout_ms || DEFAULT_TIMEOUT });

    return {
        fill: async ({ sel, value, timeout_ms }) => {
            await getPage().fill(sel, value, { timeout: timeout_ms || DEFAULT_TIMEOUT });
            return {};
        },
        choose: async ({ sel, value, timeout_ms }) => {
            await getPage().selectOption(sel, value, { timeout: timeout_ms || DEFAULT_TIMEOUT });
            return {};
        },
        press: async ({ sel, timeout_ms }) => {
            await getPage().click(sel, { timeout: timeout_ms || DEFAULT_TIMEOUT });
            return {};
        },
        text: async ({ sel, timeout_ms }) => ({ text: await (await wait(sel, timeout_ms)).textContent() }),
        value: async ({ sel, timeout_ms }) =>
            ({ value: await (await wait(sel, timeout_ms)).evaluate(e => e.value) }),
        attr: async ({ sel, name, timeout_ms }) =>
            ({ value: await (await wait(sel, timeout_ms)).getAttribute(name) }),
        texts: async ({ sel }) =>
            ({ texts: await getPage().$$eval(sel, es => es.map(e => e.textContent)) }),
        until: async ({ sel, pattern, state, timeout_ms }) => {
            if (state === "detached" || state === "hidden") {
                await wait(sel, timeout_ms, state);
                return {};
            }
            if (pattern)
                try {
                    await getPage().waitForFunction(([s, p]) => {
                        const e = document.querySelector(s);
                        return e && new RegExp(p).test(e.textContent);
                    }, [sel, pattern], { timeout: timeout_ms || DEFAULT_TIMEOUT });
                } catch (e) {
                    /* say what was there instead */
                    const text = await getPage().$eval(sel, e => e.textContent).catch(() => null);
                    throw new Error(`${sel} ${text === null ? "is not there" : "reads " + JSON.stringify(text)}, ` +
                                    `not /${pattern}/: ${e.message}`);
                }
            return { text: await (await wait(sel, timeout_ms)).textContent() };
        },
        hash: async ({ value }) => {
            await getPage().evaluate(v => { window.location.hash = v; }, value);
            return {};
        },
    };
}
