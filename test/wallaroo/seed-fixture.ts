/**
 * The seed document's examples (shared/seeds/wallaroo-model-management.txt) as a persisted catalog:
 * model 15 `api-upload-pytorch-multi-io` with versions 15–19 (the seed's SHA-256s, UUIDs, file
 * names, statuses) and model 14 `api-sample-model`, so replies can be compared with the seed's own.
 */
import type { CatalogJSON, CatalogVersionJSON } from '../../src/wallaroo/catalog.js';

export const SHA_A = '792db9ee9f41aded3c1d4705f50ccdedd21cafb8b6232c03e4a849b6da1050a8';
export const SHA_B = 'bc85ce596945f876256f41515c7501c399fd97ebcb9ab3dd41bf03f8937b4507';

const noConfig = (id: number): CatalogVersionJSON['config'] => ({
  id,
  tensorFields: null,
  batchConfig: null,
  filterThreshold: null,
  inputSchema: null,
  outputSchema: null,
});

function version(id: number, uuid: string, sha: string, fileName: string, status: 'ready' | 'error', configId: number): CatalogVersionJSON {
  return {
    id,
    uuid,
    version: `v${id}`,
    sha,
    fileName,
    status,
    createdAt: '2023-11-29T16:30:53.716526+00:00',
    updatedAt: '2023-11-29T16:30:53.716526+00:00',
    config: noConfig(configId),
  };
}

/** The seed's workspace (10 in its examples) is onnxserve's 1. */
export function seedCatalogJSON(): CatalogJSON {
  return {
    format: 1,
    workspace: { id: 1, name: 'default' },
    next: { model: 16, version: 20, config: 26 },
    models: [
      {
        id: 14,
        name: 'api-sample-model',
        createdAt: '2023-11-29T16:26:06.011817+00:00',
        updatedAt: '2023-11-29T16:26:06.011817+00:00',
        versions: [version(6, '5e1c4a92-3a0b-4c4f-9d51-0a1b2c3d4e5f', SHA_B, 'ccfraud.onnx', 'ready', 19)],
      },
      {
        id: 15,
        name: 'api-upload-pytorch-multi-io',
        createdAt: '2023-11-29T16:30:53.716526+00:00',
        updatedAt: '2023-11-29T18:20:39.610964+00:00',
        versions: [
          version(15, 'a6762893-be27-4142-ba09-4ce1b87b74a8', SHA_A, 'api-upload-pytorch-multi-io', 'error', 21),
          version(16, '9150b046-5df0-4c41-a60b-3016355f89d5', SHA_B, 'ccfraud.onnx', 'ready', 25),
          version(17, 'ce648f2a-faee-4c8d-8a7b-e2789f3ab919', SHA_B, 'ccfraud.onnx', 'error', 22),
          version(18, '0f96fae1-8ebc-41d8-a11d-3eaa3bc26526', SHA_B, 'ccfraud.onnx', 'error', 23),
          version(19, '271875ae-92ee-4137-b54f-c2ce1e88121c', SHA_A, 'model-auto-conversion_pytorch_multi_io_model.pt', 'error', 24),
        ],
      },
    ],
  };
}

/** The seed's list_versions reply (curl form), in its own order. */
export const SEED_LIST_VERSIONS = [
  { sha: SHA_A, models_pk_id: 15, model_version: '271875ae-92ee-4137-b54f-c2ce1e88121c', owner_id: '""', model_id: 'api-upload-pytorch-multi-io', id: 19, file_name: 'model-auto-conversion_pytorch_multi_io_model.pt', image_path: null, status: 'error' },
  { sha: SHA_B, models_pk_id: 15, model_version: 'ce648f2a-faee-4c8d-8a7b-e2789f3ab919', owner_id: '""', model_id: 'api-upload-pytorch-multi-io', id: 17, file_name: 'ccfraud.onnx', image_path: null, status: 'error' },
  { sha: SHA_A, models_pk_id: 15, model_version: 'a6762893-be27-4142-ba09-4ce1b87b74a8', owner_id: '""', model_id: 'api-upload-pytorch-multi-io', id: 15, file_name: 'api-upload-pytorch-multi-io', image_path: null, status: 'error' },
  { sha: SHA_B, models_pk_id: 15, model_version: '0f96fae1-8ebc-41d8-a11d-3eaa3bc26526', owner_id: '""', model_id: 'api-upload-pytorch-multi-io', id: 18, file_name: 'ccfraud.onnx', image_path: null, status: 'error' },
  // The seed's has an image_path (Wallaroo builds images); onnxserve has none: null.
  { sha: SHA_B, models_pk_id: 15, model_version: '9150b046-5df0-4c41-a60b-3016355f89d5', owner_id: '""', model_id: 'api-upload-pytorch-multi-io', id: 16, file_name: 'ccfraud.onnx', image_path: null, status: 'ready' },
];
