// check.js runs the secucard JavaScript SDK, unmodified, against a running
// secucard-sandbox: REST list and get, the device flow, STOMP connect and a
// payment start with its display events, and it checks that the SDK's
// process survives the start (it throws on a push whose target it does not
// know, spec §5.3). It needs SECUCARD_SANDBOX (the sandbox's JSON line,
// with -stomp) and the SDK on NODE_PATH; `make check-js-sdk` sets both.
'use strict';

const {SecucardConnect} = require('secucard-connect');

const info = JSON.parse(process.env.SECUCARD_SANDBOX || '{}');
if (!info.sandbox_url || !info.stomp_addr) {
    console.error('check.js: set SECUCARD_SANDBOX to the JSON line of a sandbox started with -stomp');
    process.exit(2);
}
const [stompHost, stompPort] = [info.stomp_addr.replace(/:\d+$/, ''), Number(info.stomp_addr.replace(/^.*:/, ''))];

let failed = 0;
let passed = 0;
function check(ok, what) {
    if (ok) {
        passed++;
        console.log('ok   ' + what);
    } else {
        failed++;
        console.log('FAIL ' + what);
    }
}

// The SDK dies on an exception from a frame handler; count it as a failure
// instead of losing the report.
process.on('uncaughtException', (err) => {
    console.log('FAIL the SDK threw outside a call: ' + (err && err.stack || err));
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
});

function config(overrides) {
    return Object.assign({
        restUrl: info.rest_url + '/',
        oAuthUrl: info.sandbox_url + '/oauth/',
        stompHost: stompHost,
        stompPort: stompPort,
        stompSslEnabled: false,
        stompEnabled: false,
    }, overrides);
}

async function admin(method, path, body) {
    const res = await fetch(info.admin_url + path, {
        method, headers: {'Content-Type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json();
}

function waitFor(what, cond, ms) {
    const until = Date.now() + ms;
    return new Promise((resolve, reject) => {
        const tick = () => {
            if (cond()) return resolve();
            if (Date.now() > until) return reject(new Error('timed out waiting for ' + what));
            setTimeout(tick, 10);
        };
        tick();
    });
}

const basket = {
    basket_info: {sum: 250, currency: 'EUR'},
    basket: {products: [{id: 1, desc: 'Kaffee', quantity: 1, priceOne: 250, tax: 7}]},
};

async function rest() {
    const client = SecucardConnect.create(config());
    client.setCredentials({client_id: info.client_id, client_secret: info.client_secret});
    await client.open();
    const idents = client.getService('Smart.Idents');
    const list = await idents.retrieveList({});
    check(list && list.count === 3 && Array.isArray(list.data), 'REST list of smart.idents (count ' + (list && list.count) + ')');
    const one = await idents.retrieve('smi_1');
    check(one && one.id === 'smi_1' && one.type === 'card', 'REST get smart.idents smi_1');
}

async function device() {
    const client = SecucardConnect.create(config({deviceUUID: '/vendor/jssdk/pos/1'}));
    client.setCredentials({client_id: info.client_id, client_secret: info.client_secret});
    let code = null;
    client.on('deviceCode', (data) => { code = data; });
    const opened = client.open();
    await waitFor('the device code', () => code !== null, 10000);
    check(typeof code.user_code === 'string' && code.user_code.length === 8, 'device flow: the SDK got a user code');
    await admin('POST', '/devices/approve', {user_code: code.user_code});
    await opened;
    const list = await client.getService('Smart.Idents').retrieveList({});
    check(list && list.count === 3, 'device flow: the approved device token works');
}

async function stomp() {
    const client = SecucardConnect.create(config({stompEnabled: true}));
    client.setCredentials({client_id: info.client_id, client_secret: info.client_secret});
    await client.open();
    const refreshed = (await admin('GET', '/requests')).some((r) =>
        r.method === 'STOMP' && r.path.endsWith('auth.sessions.refresh') && r.status === 200);
    check(refreshed, 'STOMP connect and session refresh');
    const transactions = client.getService('Smart.Transactions');
    const displays = [];
    transactions.on('display', (data) => displays.push(data));
    const tx = await transactions.create(basket);
    check(tx && tx.status === 'created', 'STOMP create smart.transactions');
    const done = await transactions.start(tx.id, 'demo');
    check(done && done.id === tx.id && (done.status === 'ok' || done.status === 'failed'), 'STOMP start: ' + (done && done.status));
    check(displays.length >= 2 && displays.every((d) => typeof d.text === 'string'), displays.length + ' display events during the start');
    // A display pushed after the start lands behind anything the start
    // pushed: once it is here, the SDK has handled every start event.
    await admin('POST', '/events', {target: 'general.notifications', type: 'display', data: {text: 'Ende'}});
    await waitFor('the marker display event', () => displays.some((d) => d.text === 'Ende'), 10000);
    const again = await client.getService('Smart.Idents').retrieveList({});
    check(again && again.count === 3, 'the SDK process survived the payment start and still serves');
}

(async () => {
    try {
        await rest();
        await device();
        await stomp();
    } catch (err) {
        failed++;
        console.log('FAIL ' + (err && err.stack || JSON.stringify(err)));
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
})();
