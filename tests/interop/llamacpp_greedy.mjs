// llamacpp_greedy.mjs - greedy continuation of a token-id prompt by a real llama.cpp
// (npm's node-llama-cpp, CPU build), for tests/test_llamacpp.c.
//   node llamacpp_greedy.mjs MODEL.gguf ID,ID,... N
// prints one line: the N greedy token ids, comma-separated. llama.cpp loads the model
// itself (vocabulary, hyper-parameters, tensors), so a wrong key, name or layout in the
// exporter shows up as a load error or as different tokens.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, idsArg, nArg] = process.argv.slice(2);
if (!modelPath || !idsArg || !nArg) {
  console.error("usage: node llamacpp_greedy.mjs MODEL.gguf ID,ID,... N");
  process.exit(2);
}
const prompt = idsArg.split(",").map(Number);
const n = Number(nArg);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: Math.min(model.trainContextSize, 512), threads: 1 });
const sequence = context.getSequence();
const out = [];
// evaluate() yields one token per step; temperature 0 is greedy, no penalties are set
for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
  out.push(token);
  if (out.length >= n) break;
}
console.log(out.join(","));
await context.dispose();
await model.dispose();
await llama.dispose();
