// Node peer for scripts/bench-pubsub: what shoal's pubsub handler does with a
// Redis, done the usual Node way. The cluster module runs WORKERS workers
// (default: one per core) on PORT; each has two clients of the npm "redis"
// package (tests/node/node_modules, installed by scripts/deps --bench) on
// REDIS_URL, one to PUBLISH and one subscribed to the channels its own
// clients follow, and fans every message out to them:
//   GET /ps/NAME with Upgrade: websocket  a WebSocket (npm "ws", no
//                                         compression) subscribed to NAME
//   GET /ps/NAME                          server-sent events: one
//                                         "data: MESSAGE" event per message
//   POST /ps/NAME                         PUBLISH ps:NAME with the body:
//                                         200 {"receivers": N} once Redis
//                                         answered
//   GET /                                 200 "Hello, World!" (ready check)
// A message is framed once per worker (one Buffer for the events, one for
// the WebSocket frames' payload) and written to each subscriber.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const port = +process.env.PORT || 8102;
const modules = process.env.NODE_MODULES ||
  path.join(__dirname, '..', '..', 'tests', 'node', 'node_modules');

if (cluster.isPrimary) {
  const n = +process.env.WORKERS || os.availableParallelism();
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', () => { cluster.fork(); });
} else {
  const { createClient } = require(path.join(modules, 'redis'));
  const { WebSocketServer } = require(path.join(modules, 'ws'));
  const pub = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
  const sub = pub.duplicate();
  pub.on('error', () => {});               // both reconnect by themselves
  sub.on('error', () => {});
  const channels = new Map();              // name -> {sse: Set, ws: Set}

  const deliver = (name) => (message) => {
    const subs = channels.get(name);
    if (!subs) return;
    if (subs.sse.size) {
      const ev = Buffer.from('data: ' + message + '\n\n');
      for (const res of subs.sse) res.write(ev);
    }
    if (subs.ws.size) {
      const data = Buffer.from(message);
      for (const ws of subs.ws) ws.send(data, { binary: false });
    }
  };
  const follow = (name) => {
    let subs = channels.get(name);
    if (!subs) {
      subs = { sse: new Set(), ws: new Set() };
      channels.set(name, subs);
      sub.subscribe('ps:' + name, deliver(name)).catch(() => {});
    }
    return subs;
  };
  const leave = (name) => {
    const subs = channels.get(name);
    if (subs && subs.sse.size === 0 && subs.ws.size === 0) {
      channels.delete(name);
      sub.unsubscribe('ps:' + name).catch(() => {});
    }
  };
  const channelOf = (url) => {
    const q = url.indexOf('?');
    const name = decodeURIComponent((q < 0 ? url : url.slice(0, q)).slice(4));
    return url.startsWith('/ps/') && name.length > 0 ? name : null;
  };
  const text = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    if (req.url === '/') return text(res, 200, 'Hello, World!');
    let name;
    try {
      name = channelOf(req.url);
    } catch (e) {
      return text(res, 400, 'bad channel name\n');
    }
    if (name === null) return text(res, 404, 'no channel\n');
    if (req.method === 'POST') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        pub.publish('ps:' + name, Buffer.concat(chunks)).then((n) => {
          const body = JSON.stringify({ receivers: n }) + '\n';
          res.writeHead(200, { 'Content-Type': 'application/json',
            'Content-Length': body.length });
          res.end(body);
        }, () => text(res, 503, 'redis: unavailable\n'));
      });
      return;
    }
    if (req.method !== 'GET') return text(res, 405, 'Method Not Allowed\n');
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const subs = follow(name);
    subs.sse.add(res);
    res.on('close', () => { subs.sse.delete(res); leave(name); });
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    let name = null;
    try {
      name = channelOf(req.url);
    } catch (e) { /* refused below */ }
    if (name === null) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const subs = follow(name);
      subs.ws.add(ws);
      ws.on('close', () => { subs.ws.delete(ws); leave(name); });
      ws.on('error', () => {});
    });
  });
  server.keepAliveTimeout = 75000;
  Promise.all([pub.connect(), sub.connect()]).then(() => server.listen(port));
}
