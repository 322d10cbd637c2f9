// Node peer for scripts/bench: the cluster module, WORKERS workers (default: one per core)
// on PORT. `/` -> Hello, World!, `/json` -> JSON hello, `POST /echo` -> the request as JSON
// (method, path, query, version, headers, body, client: what shoal's echo handler answers).
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
      req.on('end', () => {
        const b = Buffer.concat(chunks).toString('latin1');
        const q = req.url.indexOf('?');
        const headers = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2)
          headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
        send(res, 'application/json', JSON.stringify({
          method: req.method,
          path: q < 0 ? req.url : req.url.slice(0, q),
          query: q < 0 ? null : req.url.slice(q + 1),
          version: 'HTTP/' + req.httpVersion,
          headers,
          body: b,
          body_length: b.length,
          client: req.socket.remoteAddress + ':' + req.socket.remotePort,
        }));
      });
    } else {
      send(res, 'text/plain', body);
    }
  }).listen(port);
}
