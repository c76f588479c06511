// The gRPC floor: the least a grpc-js server can do per call — TorchServe's InferenceAPIsService
// from the same proto, `Predictions` answering a fixed small reply (about the size of the MLP's
// answer) without looking at the request. Run as its own plain `node` process by the bench;
// prints `listening <port>` once bound to 127.0.0.1 on a free port.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const protoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../proto');
const def = protoLoader.loadSync(path.join(protoDir, 'inference.proto'), { keepCase: true, longs: String, defaults: true, oneofs: true, includeDirs: [protoDir] });
const pkg = grpc.loadPackageDefinition(def);
const reply = { prediction: Buffer.from(JSON.stringify([[0.9721, 0.0278, 0.0001]], null, 2)) };

const server = new grpc.Server();
server.addService(pkg.org.pytorch.serve.grpc.inference.InferenceAPIsService.service, {
  Ping: (_call, cb) => cb(null, { health: '{}' }),
  Predictions: (_call, cb) => cb(null, reply),
  StreamPredictions: (call) => call.end(),
  StreamPredictions2: (call) => call.end(),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});

const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
