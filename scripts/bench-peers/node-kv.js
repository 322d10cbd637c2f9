// Node peer for scripts/bench-kv: the cluster module, WORKERS workers (default: one per core)
// on PORT, each with one client of the npm "redis" package (tests/node/node_modules, installed
// by scripts/deps --bench) connected to REDIS_URL, doing what shoal's kv handler does:
//   GET|HEAD /kv/KEY -> GET KEY: 200 with the bytes (application/octet-stream), or 404
//   PUT /kv/KEY      -> SET KEY body: 204
//   DELETE /kv/KEY   -> DEL KEY: 204 or 404
// Redis unreachable: 503. Values are Buffers end to end (no string decoding), as in shoal.
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const port = +process.env.PORT || 8102;
const modules = process.env.NODE_MODULES ||
  path.join(__dirname, '..', '..', 'tests', 'node', 'node_modules');
const { createClient, RESP_TYPES } = require(path.join(modules, 'redis'));

if (cluster.isPrimary) {
  const n = +process.env.WORKERS || os.availableParallelism();
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', () => { cluster.fork(); });
} else {
  const client = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' })
    .withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on('error', () => {});            // it reconnects by itself
  const text = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  };
  client.connect().then(() => {
    http.createServer((req, res) => {
      if (!req.url.startsWith('/kv/') || req.url.length === 4)
        return text(res, 404, 'no key\n');
      let key;
      try {
        key = decodeURIComponent(req.url.slice(4));
      } catch (e) {
        return text(res, 400, 'bad key\n');
      }
      const fail = () => text(res, 503, 'redis: unavailable\n');
      switch (req.method) {
        case 'GET':
        case 'HEAD':
          client.get(key).then((v) => {
            if (v === null) return text(res, 404, 'no such key\n');
            res.writeHead(200, { 'Content-Type': 'application/octet-stream',
              'Content-Length': v.length });
            res.end(req.method === 'HEAD' ? undefined : v);
          }, fail);
          return;
        case 'PUT': {
          const chunks = [];
          req.on('data', (c) => chunks.push(c));
          req.on('end', () => {
            client.set(key, Buffer.concat(chunks)).then(() => {
              res.writeHead(204);
              res.end();
            }, fail);
          });
          return;
        }
        case 'DELETE':
          client.del(key).then((n) => {
            if (n === 0) return text(res, 404, 'no such key\n');
            res.writeHead(204);
            res.end();
          }, fail);
          return;
        default:
          res.setHeader('Allow', 'GET, HEAD, PUT, DELETE');
          return text(res, 405, 'Method Not Allowed\n');
      }
    }).listen(port);
  });
}
