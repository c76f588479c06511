// The HTTP floor: the least a node:http server can do per request — read the whole body, reply a
// fixed small JSON (about the size of onnxserve's iris answer). Run as its own plain `node` process
// by bench/run.ts (plain JS, so no TypeScript loader inflates its memory or start-up); prints
// `listening <port>` once bound to 127.0.0.1 on a free port.
import http from 'node:http';

const reply = Buffer.from(JSON.stringify({ setosa: 0.9721, versicolor: 0.0278, virginica: 0.0001 }, null, 2));

const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
    res.end(reply);
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`listening ${port}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
