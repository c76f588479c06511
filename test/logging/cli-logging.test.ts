/**
 * Logging through the real CLI: handler output (context.log and console.log) lands in
 * model_log.log tagged with its worker; --log-config (YAML) changes destinations; a log4j2 XML
 * config is refused with a message saying what to use instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeMar } from '../fixtures/mar.js';
import { mlp } from '../fixtures/models.js';
import { eventually, http, makeSandbox, runCli, startForeground } from '../e2e/harness.js';

const HANDLER = `export function handle(batch, ctx) {
  ctx.log.info('handled ' + batch.length);
  console.log('printed by the handler');
  return batch.map(() => 'ok');
}\n`;

describe('logging through the CLI', () => {
  it('writes handler output to model_log.log, and honours a YAML --log-config', async () => {
    const sb = makeSandbox();
    try {
      await writeMar(path.join(sb.store, 'h.mar'), {
        modelName: 'h',
        serializedFile: 'model.onnx',
        handler: 'h.mjs',
        files: { 'model.onnx': fs.readFileSync((await mlp(sb.dir)).path), 'h.mjs': HANDLER },
      });
      fs.writeFileSync(path.join(sb.dir, 'log.yaml'), 'access_log:\n  destination: "off"\nmodel_log:\n  additive: false\n');
      const cfg = sb.writeConfig({ model_store: sb.store, load_models: 'all', default_workers_per_model: 1 });
      const server = await startForeground(sb, ['--ncs', '--ts-config', cfg, '--log-config', path.join(sb.dir, 'log.yaml')]);
      try {
        await eventually(async () => expect((await http(`${server.endpoints.inference}/predictions/h`, { method: 'POST', body: 'x' })).status).toBe(200));
        const logs = path.join(sb.dir, 'logs');
        await eventually(async () => {
          const model = fs.readFileSync(path.join(logs, 'model_log.log'), 'utf8');
          expect(model).toMatch(/\[INFO \] W-\d+-h_1\.0 MODEL_LOG - handled 1/);
          expect(model).toMatch(/W-\d+-h_1\.0 MODEL_LOG - printed by the handler/);
        });
        expect(fs.readFileSync(path.join(logs, 'ts_log.log'), 'utf8')).not.toContain('printed by the handler'); // additive: false
        expect(fs.existsSync(path.join(logs, 'access_log.log')) ? fs.readFileSync(path.join(logs, 'access_log.log'), 'utf8') : '').toBe('');
      } finally {
        await server.stop();
      }
    } finally {
      sb.remove();
    }
  });

  it('refuses a log4j2 XML config, saying what to use instead', async () => {
    const sb = makeSandbox();
    try {
      fs.writeFileSync(path.join(sb.dir, 'log4j2.xml'), '<?xml version="1.0"?>\n<Configuration></Configuration>\n');
      const cfg = sb.writeConfig({ model_store: sb.store });
      const r = await runCli(sb, ['--start', '--foreground', '--ncs', '--ts-config', cfg, '--log-config', path.join(sb.dir, 'log4j2.xml')]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain('log4j2 XML configurations are not supported; give a JSON or YAML logging config');
    } finally {
      sb.remove();
    }
  });
});
