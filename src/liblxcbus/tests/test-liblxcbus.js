// SPDX-License-Identifier: LGPL-2.1-or-later
// test-liblxcbus.js NAME: liblxcbus from JavaScript, as a GNOME app would use it: GJS with gi://Lxcbus (the
// installed typelib). The asynchronous calls as promises (Gio._promisify); the instance's State followed by
// notify::state. NAME must be a stopped instance; it is stopped again at the end. Prints "ok - STEP" for
// each step and exits 0, or prints "not ok - STEP: error" and exits 1. Run by
// tests/integration/test_liblxcbus_gjs.py.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Lxcbus from 'gi://Lxcbus?version=1';
import System from 'system';

Gio._promisify(Lxcbus.Client, 'new', 'new_finish');
Gio._promisify(Lxcbus.Client.prototype, 'start_instance', 'start_instance_finish');
Gio._promisify(Lxcbus.Client.prototype, 'stop_instance', 'stop_instance_finish');

const [name] = System.programArgs;
const TIMEOUT_MS = 60000;

// resolves once pred() holds (checked every 50 ms in the main loop), rejects after TIMEOUT_MS
function waitFor(pred, what) {
    return new Promise((resolve, reject) => {
        const start = GLib.get_monotonic_time();
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, 50, () => {
            if (pred()) {
                resolve();
                return GLib.SOURCE_REMOVE;
            }
            if (GLib.get_monotonic_time() - start > TIMEOUT_MS * 1000) {
                reject(new Error(`timed out waiting for ${what}`));
                return GLib.SOURCE_REMOVE;
            }
            return GLib.SOURCE_CONTINUE;
        });
    });
}

let step = 'setup';

function ok() {
    print(`ok - ${step}`);
}

async function main() {
    step = 'list';
    const client = await Lxcbus.Client.new(null);
    const names = client.get_instances().map(i => i.name);
    if (!names.includes(name))
        throw new Error(`${name} not among ${names.join(' ')}`);
    const instance = client.lookup_instance(name);
    if (instance.state !== 'stopped')
        throw new Error(`state ${instance.state}, expected stopped`);
    ok();

    // every State the proxy is told of by PropertiesChanged
    const seen = [];
    instance.connect('notify::state', obj => seen.push(obj.state));

    step = 'start';
    if (!await client.start_instance(name, null))
        throw new Error('start_instance returned false');
    await waitFor(() => seen.includes('running'), 'State running by signal');
    ok();

    step = 'stop';
    if (!await client.stop_instance(name, false, null))
        throw new Error('stop_instance returned false');
    await waitFor(() => seen.includes('stopped'), 'State stopped by signal');
    ok();

    step = 'no such instance';
    try {
        client.start_instance_sync('no-such-instance', null);
        throw new Error('started a missing instance');
    } catch (e) {
        if (!(e instanceof GLib.Error) || !e.matches(Lxcbus.error_quark(), Lxcbus.Error.NO_SUCH_INSTANCE))
            throw e;
    }
    ok();
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    print(`not ok - ${step}: ${e.message}`);
    status = 1;
}).finally(() => loop.quit());
loop.run();
System.exit(status);
