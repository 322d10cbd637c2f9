// Node peer for scripts/bench (copy of the anchor in ../shared/bench/): the cluster module,
// WORKERS workers (default: one per core) on PORT, `/` -> Hello, World! and `/json` -> JSON hello.
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const port = +process.env.PORT || 8101;
if (cluster.isPrimary) {
  const n = +process.env.WORKERS || os.availableParallelism();
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', (w, code, sig) => { cluster.fork(); });
} else {
  const body = 'Hello, World!';
  http.createServer((req, res) => {
    if (req.url === '/json') {
      const b = JSON.stringify({ message: 'Hello, World!' });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
      res.end(b);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
      res.end(body);
    }
  }).listen(port);
}
