// A WebSocket client for the integration tests, on Node's "ws" package
// (installed into tests/node/node_modules by scripts/deps --test).
//
//   node ws_client.js echo URL            text, binary, fragmented and large
//                                         messages echoed; the subprotocol;
//                                         a clean close 1000
//   node ws_client.js hold URL SECONDS N  N clients that send a message every
//                                         50 ms for SECONDS, check each echo,
//                                         and reconnect whenever the server
//                                         closes (a reload, an upgrade)
//   node ws_client.js chan URL N K        N clients of one channel (the pubsub
//                                         handler): once all are open each
//                                         publishes K messages; each counts
//                                         what it receives, and checks that
//                                         every publisher's came in order
//
// Prints one JSON object (the outcome) on stdout; exits 0 when it ran (the
// test judges the figures), 1 on a usage error.
'use strict';

const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'node', 'node_modules', 'ws'));

function echo(url) {
  const out = { protocol: null, checks: {}, closeCode: null, errors: [] };
  const ws = new WebSocket(url, ['chat', 'echo']);
  const big = Buffer.alloc(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const expect = [
    ['text', 'hello, wörld'],
    ['binary', Buffer.from([0, 1, 2, 255])],
    ['fragmented', 'fragment-one fragment-two'],
    ['big', big],
    ['empty', ''],
  ];
  let next = 0;
  ws.on('open', () => {
    out.protocol = ws.protocol;
    ws.send(expect[0][1]);
    ws.send(expect[1][1]);
    // One message in two frames (the ws package's fin option).
    ws.send('fragment-one ', { fin: false });
    ws.send('fragment-two', { fin: true });
    ws.send(expect[3][1]);
    ws.send(expect[4][1]);
  });
  ws.on('message', (data, isBinary) => {
    const [name, want] = expect[next++] || ['extra', null];
    const wantBinary = Buffer.isBuffer(want);
    const same = want !== null && isBinary === wantBinary &&
      Buffer.compare(Buffer.from(data), Buffer.from(want)) === 0;
    out.checks[name] = same;
    if (next === expect.length) ws.close(1000, 'done');
  });
  ws.on('close', (code) => {
    out.closeCode = code;
    console.log(JSON.stringify(out));
  });
  ws.on('error', (e) => out.errors.push(String(e.message || e)));
}

function hold(url, seconds, n) {
  const out = { opens: 0, closes: {}, sent: 0, echoed: 0, mismatched: 0,
    errors: 0, reconnected: 0, openAtEnd: 0 };
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const clients = [];

  function client(id) {
    const c = { ws: null, seq: 0, waiting: [], timer: null, closed: false };
    function connect(again) {
      if (Date.now() >= deadline) return finish();
      if (again) out.reconnected++;
      const ws = new WebSocket(url);
      c.ws = ws;
      c.waiting = [];
      ws.on('open', () => {
        out.opens++;
        c.timer = setInterval(() => {
          if (ws.readyState !== WebSocket.OPEN) return;
          const m = id + ':' + (c.seq++);
          c.waiting.push(m);
          ws.send(m);
          out.sent++;
        }, 50);
      });
      ws.on('message', (data) => {
        const want = c.waiting.shift();
        if (String(data) === want) out.echoed++; else out.mismatched++;
      });
      ws.on('error', () => { out.errors++; });
      ws.on('close', (code) => {
        clearInterval(c.timer);
        out.closes[code] = (out.closes[code] || 0) + 1;
        // Messages in flight when the server closed were never echoed:
        // they are not lost requests, the client sends them again.
        out.sent -= c.waiting.length;
        if (Date.now() < deadline) setTimeout(() => connect(true), 20);
        else finish();
      });
    }
    function finish() {
      if (c.closed) return;
      c.closed = true;
      if (++done === n) {
        console.log(JSON.stringify(out));
        process.exit(0);
      }
    }
    c.connect = connect;
    c.finish = finish;
    return c;
  }
  for (let i = 0; i < n; i++) {
    const c = client(i);
    clients.push(c);
    c.connect(false);
  }
  setTimeout(() => {
    for (const c of clients) {
      if (c.ws && c.ws.readyState === WebSocket.OPEN) {
        out.openAtEnd++;
        c.ws.close(1000, 'bye');
      } else {
        c.finish();
      }
    }
  }, seconds * 1000);
}

function chan(url, n, k) {
  const out = { received: [], inOrder: true, errors: [] };
  const clients = [];
  let open = 0;
  const want = n * k;
  let complete = 0;
  const timer = setTimeout(() => finish(), 30000);
  function finish() {
    clearTimeout(timer);
    out.received = clients.map((c) => c.got);
    console.log(JSON.stringify(out));
    process.exit(0);
  }
  for (let i = 0; i < n; i++) {
    const c = { ws: new WebSocket(url), got: 0, last: {} };
    clients.push(c);
    c.ws.on('open', () => {
      // Everyone subscribed before anyone publishes.
      if (++open === n) {
        setTimeout(() => {
          for (let j = 0; j < n; j++)
            for (let m = 0; m < k; m++) clients[j].ws.send(j + ':' + m);
        }, 100);
      }
    });
    c.ws.on('message', (data) => {
      const [from, m] = String(data).split(':').map(Number);
      if (c.last[from] !== undefined && m !== c.last[from] + 1) out.inOrder = false;
      c.last[from] = m;
      if (++c.got === want && ++complete === n) finish();
    });
    c.ws.on('error', (e) => out.errors.push(String(e.message || e)));
  }
}

const [mode, url, a, b] = process.argv.slice(2);
if (mode === 'echo' && url) echo(url);
else if (mode === 'hold' && url) hold(url, Number(a || 3), Number(b || 4));
else if (mode === 'chan' && url) chan(url, Number(a || 4), Number(b || 25));
else {
  console.error('usage: ws_client.js echo URL | hold URL SECONDS N | chan URL N K');
  process.exit(1);
}
