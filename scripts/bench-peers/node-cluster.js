// Node peer for scripts/bench: the cluster module, WORKERS workers (default: one per core)
// on PORT. `/` -> Hello, World!, `/json` -> JSON hello, `POST /echo` -> the body as it came
// (what shoal's echo_body handler answers).
// No static files: Node's http module has no sendfile, so it is not a static-file peer.
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
  const send = (res, type, b) => {
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
  };
  http.createServer((req, res) => {
    if (req.url === '/json') {
      send(res, 'application/json', JSON.stringify({ message: 'Hello, World!' }));
    } else if (req.url.startsWith('/echo') && req.method === 'POST') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => send(res, 'application/octet-stream', Buffer.concat(chunks)));
    } else {
      send(res, 'text/plain', body);
    }
  }).listen(port);
}
