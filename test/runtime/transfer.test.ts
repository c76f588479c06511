/** How request and reply buffers cross the thread boundary: transferred when owned, else copied once. */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ownedArray } from '../../src/handlers/wire-tensors.js';
import { ownedTensors, replyViews, requestForTransfer, transferList } from '../../src/runtime/transfer.js';
import type { InferenceRequest, WireTensor } from '../../src/runtime/types.js';

const owns = (v: ArrayBufferView) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;

function receive(port: MessagePort): Promise<unknown> {
  return new Promise((resolve) => port.once('message', resolve));
}

describe('tensor buffers across threads', () => {
  it('keeps arrays that own their buffer, and copies views into a larger buffer exactly once', () => {
    const owned = Float32Array.of(1, 2, 3);
    const body = new ArrayBuffer(64);
    new Uint8Array(body).fill(7);
    const view = new Float32Array(body, 8, 4);
    view.set([4, 5, 6, 7]);
    const pooled = Buffer.from('tiny'); // a slice of Node's shared 8 KB pool
    expect(owns(pooled)).toBe(false);
    const request: InferenceRequest = {
      parts: [],
      headers: {},
      tensors: [
        { name: 'a', datatype: 'FP32', shape: [3], data: owned },
        { name: 'b', datatype: 'FP32', shape: [4], data: view },
        { name: 'c', datatype: 'UINT8', shape: [4], data: pooled },
        { name: 'd', datatype: 'BYTES', shape: [1], data: ['ünïcode'] },
      ],
    };
    const { request: posted, views } = requestForTransfer(request);
    const [a, b, c, d] = posted.tensors!;
    expect(a!.data).toBe(owned);
    expect(b!.data).not.toBe(view);
    expect(owns(b!.data as Float32Array)).toBe(true);
    expect(Array.from(b!.data as Float32Array)).toEqual([4, 5, 6, 7]);
    // A Buffer is copied into a plain Uint8Array of its own (Buffer#slice would only be a view).
    expect(owns(c!.data as Uint8Array)).toBe(true);
    expect(c!.data.constructor).toBe(Uint8Array);
    expect(new TextDecoder().decode(c!.data as Uint8Array)).toBe('tiny');
    expect(d).toBe(request.tensors![3]);
    expect(views).toEqual([a!.data, b!.data, c!.data]);
    // The caller's request is left as it was.
    expect(request.tensors![1]!.data).toBe(view);
    expect(ownedArray(view)).not.toBe(view);
    expect(ownedArray(owned)).toBe(owned);
  });

  it('transfers owned arrays (detached here) and leaves the larger buffer of a copied view intact', async () => {
    const owned = BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n);
    const body = new ArrayBuffer(32);
    const view = new Int32Array(body, 16, 2);
    view.set([-1, 42]);
    const request: InferenceRequest = {
      parts: [],
      headers: {},
      tensors: [
        { name: 'i', datatype: 'INT64', shape: [2], data: owned },
        { name: 'j', datatype: 'INT32', shape: [2], data: view },
      ],
    };
    const { port1, port2 } = new MessageChannel();
    try {
      const { request: posted, views } = requestForTransfer(request);
      const got = receive(port2);
      port1.postMessage(posted, transferList(views));
      const received = (await got) as InferenceRequest;
      expect(owned.byteLength).toBe(0); // moved, not copied
      expect(body.byteLength).toBe(32);
      expect(Array.from(view)).toEqual([-1, 42]);
      const [i, j] = received.tensors!;
      expect(Array.from(i!.data as BigInt64Array)).toEqual([-(2n ** 63n), 2n ** 63n - 1n]);
      expect(j!.data).toBeInstanceOf(Int32Array);
      expect(Array.from(j!.data as Int32Array)).toEqual([-1, 42]);
      expect((j!.data as Int32Array).buffer.byteLength).toBe(8);
    } finally {
      port1.close();
      port2.close();
    }
  });

  it('lists a reply body and its tensor arrays for transfer, BYTES excepted', () => {
    const tensors: WireTensor[] = [
      { name: 'y', datatype: 'FP64', shape: [1], data: Float64Array.of(1) },
      { name: 's', datatype: 'BYTES', shape: [1], data: ['x'] },
    ];
    const body = new Uint8Array(0);
    expect(replyViews({ status: 200, body, tensors })).toEqual([body, tensors[0]!.data]);
    expect(ownedTensors(tensors)[0]).toBe(tensors[0]);
  });
});
