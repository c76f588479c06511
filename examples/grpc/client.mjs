#!/usr/bin/env node
/**
 * A gRPC client session against onnxserve, generated at run time from the server's own protos
 * (proto/*.proto) with @grpc/grpc-js — the calls a TorchServe or KServe/Triton gRPC client makes.
 *
 *   node examples/grpc/client.mjs [command ...]
 *
 *   ping                                   TorchServe InferenceAPIsService/Ping
 *   predict <model> <file>                 .../Predictions, the file as input "data"
 *   stream <model> <file>                  .../StreamPredictions, one line per message
 *   list | describe <model>                ManagementAPIsService/ListModels, DescribeModel
 *   scale <model> <n>                      .../ScaleWorker (min = max = n, synchronous)
 *   register <url> [name] | unregister <model>    .../RegisterModel, UnregisterModel (model API on)
 *   live | ready | server                  inference.GRPCInferenceService ServerLive/ServerReady/ServerMetadata
 *   metadata <model>                       .../ModelMetadata
 *   infer <model> <v1,v2,...> [shape]      .../ModelInfer, one FP32 input (raw_input_contents)
 *
 * Environment: GRPC_INFERENCE (127.0.0.1:7070), GRPC_MANAGEMENT (127.0.0.1:7071); the token keys
 * are read from ./key_file.json when it exists (token authorization on), else none are sent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto');
const load = (file) => grpc.loadPackageDefinition(protoLoader.loadSync(path.join(PROTO_DIR, file), { keepCase: true, longs: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] }));
const inferenceAddr = process.env.GRPC_INFERENCE ?? '127.0.0.1:7070';
const managementAddr = process.env.GRPC_MANAGEMENT ?? '127.0.0.1:7071';
const creds = grpc.credentials.createInsecure();

const keys = fs.existsSync('key_file.json') ? JSON.parse(fs.readFileSync('key_file.json', 'utf8')) : undefined;
const metadata = (kind) => {
  const md = new grpc.Metadata();
  if (keys) md.set('authorization', `Bearer ${keys[kind].key}`);
  return md;
};

const ts = load('inference.proto').org.pytorch.serve.grpc.inference;
const mgmt = load('management.proto').org.pytorch.serve.grpc.management;
const oip = load('open_inference_grpc.proto').inference;

const unary = (client, method, req, kind) =>
  new Promise((resolve, reject) => client[method](req, metadata(kind), (err, res) => (err ? reject(err) : resolve(res))));

async function main([cmd = 'ping', ...args]) {
  const inference = () => new ts.InferenceAPIsService(inferenceAddr, creds);
  const management = () => new mgmt.ManagementAPIsService(managementAddr, creds);
  const openInference = () => new oip.GRPCInferenceService(inferenceAddr, creds);
  switch (cmd) {
    case 'ping':
      return console.log((await unary(inference(), 'Ping', {}, 'inference')).health);
    case 'predict': {
      const res = await unary(inference(), 'Predictions', { model_name: args[0], input: { data: fs.readFileSync(args[1]) } }, 'inference');
      return console.log(res.prediction.toString());
    }
    case 'stream': {
      const call = inference().StreamPredictions({ model_name: args[0], input: { data: fs.readFileSync(args[1]) } }, metadata('inference'));
      call.on('data', (m) => console.log(m.prediction.toString().trimEnd()));
      return new Promise((resolve, reject) => {
        call.on('end', resolve);
        call.on('error', reject);
      });
    }
    case 'list':
      return console.log((await unary(management(), 'ListModels', {}, 'management')).msg);
    case 'describe':
      return console.log((await unary(management(), 'DescribeModel', { model_name: args[0] }, 'management')).msg);
    case 'scale': {
      const n = Number(args[1]);
      return console.log((await unary(management(), 'ScaleWorker', { model_name: args[0], min_worker: n, max_worker: n, synchronous: true }, 'management')).msg);
    }
    case 'register':
      return console.log((await unary(management(), 'RegisterModel', { url: args[0], model_name: args[1] ?? '', initial_workers: 1, synchronous: true }, 'management')).msg);
    case 'unregister':
      return console.log((await unary(management(), 'UnregisterModel', { model_name: args[0] }, 'management')).msg);
    case 'live':
      return console.log(JSON.stringify(await unary(openInference(), 'ServerLive', {}, 'inference')));
    case 'ready':
      return console.log(JSON.stringify(await unary(openInference(), 'ServerReady', {}, 'inference')));
    case 'server':
      return console.log(JSON.stringify(await unary(openInference(), 'ServerMetadata', {}, 'inference')));
    case 'metadata': {
      const meta = await unary(openInference(), 'ModelMetadata', { name: args[0] }, 'inference');
      // int64 fields arrive as strings (longs: String): shapes as numbers for reading.
      const tensors = (list) => list.map((t) => ({ ...t, shape: t.shape.map(Number) }));
      return console.log(JSON.stringify({ ...meta, inputs: tensors(meta.inputs), outputs: tensors(meta.outputs) }));
    }
    case 'infer': {
      const values = args[1].split(',').map(Number);
      const shape = args[2] ? args[2].split(',').map(Number) : [1, values.length];
      const meta = await unary(openInference(), 'ModelMetadata', { name: args[0] }, 'inference');
      const res = await unary(
        openInference(),
        'ModelInfer',
        { model_name: args[0], inputs: [{ name: meta.inputs[0].name, datatype: 'FP32', shape }], raw_input_contents: [Buffer.from(new Float32Array(values).buffer)] },
        'inference',
      );
      const outputs = res.outputs.map((o, i) => {
        const raw = res.raw_output_contents[i];
        const data = raw && o.datatype === 'FP32' ? Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))) : raw ? [...raw] : Object.values(o.contents ?? {}).find((v) => Array.isArray(v) && v.length > 0);
        return { name: o.name, datatype: o.datatype, shape: o.shape.map(Number), data };
      });
      return console.log(JSON.stringify({ model_name: res.model_name, model_version: res.model_version, outputs }));
    }
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    console.error(err.code !== undefined ? `${grpc.status[err.code]}: ${err.details}` : err.message);
    process.exit(1);
  },
);
