// Node peer for scripts/bench-ws: the cluster module with WORKERS workers
// (default: one per core) on PORT, each a WebSocketServer of the "ws"
// package (tests/node/node_modules, installed by scripts/deps --bench) that
// echoes every message on /ws, as shoal's ws_echo does; no compression
// (shoal has none either), no per-message allocation beyond ws's own.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const port = +process.env.PORT || 8102;
if (cluster.isPrimary) {
  const n = +process.env.WORKERS || os.availableParallelism();
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', () => { cluster.fork(); });
} else {
  const { WebSocketServer } = require(path.join(__dirname, '..', '..', 'tests', 'node', 'node_modules', 'ws'));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13 });
    res.end('Hello, World!');
  });
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(port);
}
