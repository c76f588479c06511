/**
 * Catalog records → the reply objects of the seed document, member for member and in the seed's
 * order (clients that print replies see what Wallaroo prints). Unknown values are null
 * (`image_path`: onnxserve builds no images); `owner_id` is the seed's own value for "no owner",
 * the two-character string `""`, which keeps its documented type (String).
 */
import type { CatalogModel, CatalogVersion, ModelConfig } from './catalog.js';

/** Wallaroo's owner id of models uploaded without a user (every example in the seed). */
export const NO_OWNER = '""';

/** `/v1/api/models/list` → `models[]`. */
export function listedModel(m: CatalogModel) {
  return { id: m.id, name: m.name, owner_id: NO_OWNER, created_at: m.createdAt, updated_at: m.updatedAt };
}

/** The `model_config` of get_by_id and get_config_by_id (the seed shows these four members). */
export function briefConfig(c: ModelConfig) {
  return { id: c.id, runtime: c.runtime, tensor_fields: c.tensorFields, filter_threshold: c.filterThreshold };
}

/** insert_model_config's `model_config` (every member). */
export function fullConfig(c: ModelConfig) {
  return {
    id: c.id,
    model_version_id: c.modelVersionId,
    runtime: c.runtime,
    filter_threshold: c.filterThreshold,
    tensor_fields: c.tensorFields,
    input_schema: c.inputSchema,
    output_schema: c.outputSchema,
    batch_config: c.batchConfig,
  };
}

/** One version as list_versions (with `status`) and get (without it) show it. */
export function versionEntry(v: CatalogVersion, modelId: number, withStatus: boolean) {
  const entry = {
    sha: v.sha,
    models_pk_id: modelId,
    model_version: v.uuid,
    owner_id: NO_OWNER,
    model_id: v.model,
    id: v.id,
    file_name: v.fileName,
    image_path: null,
  };
  return withStatus ? { ...entry, status: v.status } : entry;
}

/** `/v1/api/models/get_by_id`. */
export function modelById(m: CatalogModel, workspaceId: number, config: ModelConfig | undefined) {
  return {
    id: m.id,
    owner_id: NO_OWNER,
    workspace_id: workspaceId,
    name: m.name,
    updated_at: m.updatedAt,
    created_at: m.createdAt,
    model_config: config === undefined ? null : briefConfig(config),
  };
}

/** `/v1/api/models/get`. */
export function modelWithVersions(m: CatalogModel) {
  return {
    id: m.id,
    name: m.name,
    owner_id: NO_OWNER,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    models: m.versions.map((v) => versionEntry(v, m.id, false)),
  };
}
