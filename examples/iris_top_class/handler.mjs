/**
 * A complete onnxserve custom handler: it keeps the default ONNX handler's JSON → tensor
 * decoding and `session.run`, and replaces only the reply with the most likely class.
 *
 * Pack it with the Iris model:
 *   onnxserve-archiver --model-name iris_top --version 1.0 --serialized-file iris.onnx \
 *     --handler examples/iris_top_class/handler.mjs --extra-files index_to_name.json
 */

/** @type {string[]} */
let labels = [];

/**
 * Once per worker, after the ONNX Runtime session exists.
 * @param {import('onnxserve/handler').HandlerContext} context
 */
export async function initialize(context) {
  const { readFile } = await import('node:fs/promises');
  const names = JSON.parse(await readFile(`${context.modelDir}/index_to_name.json`, 'utf8'));
  labels = Object.keys(names)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => names[k]);
  context.log.info(`${context.modelName}: ${labels.length} classes`);
}

/**
 * `outputs` holds one `{output name: ort.Tensor}` per request (the default inference step's
 * result); the reply is one JSON value per request.
 * @param {Array<Record<string, import('onnxruntime-node').Tensor>>} outputs
 * @param {import('onnxserve/handler').HandlerContext} context
 */
export function postprocess(outputs, context) {
  return outputs.map((out, i) => {
    const probabilities = Array.from(/** @type {Float32Array} */ (out.probabilities.data));
    const best = probabilities.indexOf(Math.max(...probabilities));
    context.setResponseHeader('x-top-class', labels[best] ?? String(best), i);
    return { label: labels[best] ?? String(best), probability: probabilities[best] };
  });
}
