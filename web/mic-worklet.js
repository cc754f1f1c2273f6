// mic-worklet.js — why it exists: the AudioWorkletProcessor behind live recognition. It
// runs on the audio thread at the device's own sample rate, downmixes the microphone to
// mono, converts float samples to 16-bit little-endian PCM and posts ~150 ms chunks (as
// transferable ArrayBuffers, with the chunk's peak level) to the page, which streams them
// to /ws/stream. This module must not import anything.

const CHUNK_S = 0.15;

class MicChunker extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is a global of the AudioWorkletGlobalScope: the context's (device's) rate.
    this.size = Math.max(128, Math.round(sampleRate * CHUNK_S));
    this.buf = new Int16Array(this.size);
    this.fill = 0;
    this.peak = 0;
    this.stopped = false;
    this.port.onmessage = (e) => {
      if (e.data === "flush") this.flush();
      if (e.data === "stop") { this.flush(); this.stopped = true; }
    };
  }

  flush() {
    if (this.fill === 0) return;
    const out = this.buf.slice(0, this.fill).buffer;
    this.port.postMessage({ pcm: out, level: this.peak, frames: this.fill }, [out]);
    this.fill = 0;
    this.peak = 0;
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const channels = input.length;
    const n = input[0].length;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += input[c][i];
      s /= channels;
      if (s > 1) s = 1; else if (s < -1) s = -1;
      const a = s < 0 ? -s : s;
      if (a > this.peak) this.peak = a;
      this.buf[this.fill++] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
      if (this.fill === this.size) this.flush();
    }
    return true;
  }
}

registerProcessor("mic-chunker", MicChunker);
