/** PCM s16le (base64, mono) → Float32 samples in [-1, 1). */

export function base64ToBytes(b64: string): Uint8Array {
  if (typeof atob === "function") {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  return new Uint8Array(Buffer.from(b64, "base64"));
}

export function pcm16ToFloat32(bytes: Uint8Array): Float32Array {
  const n = bytes.length >> 1; // an odd trailing byte is dropped
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

export function decodePcmBase64(b64: string): Float32Array {
  return pcm16ToFloat32(base64ToBytes(b64));
}

/** Duration in ms of `samples` at `rate`. */
export function samplesToMs(samples: number, rate: number): number {
  return rate > 0 ? (samples * 1000) / rate : 0;
}
