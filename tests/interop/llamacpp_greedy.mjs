// llamacpp_greedy.mjs - greedy continuation of a token-id prompt by a real llama.cpp
// (npm's node-llama-cpp, CPU build), for tests/test_llamacpp.c.
//   node llamacpp_greedy.mjs MODEL.gguf ID,ID,...[;ID,ID,...] N
// prints, for every prompt (prompts separated by ';'), one line: the N greedy token ids
// that follow it, comma-separated; each prompt starts from an empty context.
//   node llamacpp_greedy.mjs MODEL.gguf --tokenize TEXTS.txt
// prints, for every line of TEXTS.txt, llama.cpp's token ids of that text (its own
// tokenizer built from the GGUF vocabulary, no BOS added). llama.cpp loads the model
// itself (vocabulary, hyper-parameters, tensors), so a wrong key, name or layout in the
// exporter shows up as a load error or as different tokens.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

import { readFileSync } from "node:fs";

const [modelPath, idsArg, nArg] = process.argv.slice(2);
if (!modelPath || !idsArg || !nArg) {
  console.error("usage: node llamacpp_greedy.mjs MODEL.gguf ID,ID,...[;ID,...] N | --tokenize TEXTS.txt");
  process.exit(2);
}
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
if (idsArg === "--tokenize") {
  const texts = readFileSync(nArg, "utf8").split("\n").filter((t) => t.length > 0);
  for (const text of texts) console.log(model.tokenize(text, false).join(","));
  await model.dispose();
  await llama.dispose();
  process.exit(0);
}
const prompts = idsArg.split(";").map((p) => p.split(",").map(Number));
const n = Number(nArg);
// F32 KV cache and no flash attention: llama.cpp's defaults (F16 cache) round K and V to
// 11 bits, which moves logits by ~1e-3 and flips near-ties; in F32 both sides compute the
// same function up to summation order.
const context = await model.createContext({
  contextSize: Math.min(model.trainContextSize, 512),
  threads: 1,
  flashAttention: false,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();
for (const prompt of prompts) {
  await sequence.clearHistory();
  const out = [];
  // evaluate() yields one token per step; temperature 0 is greedy, no penalties are set
  for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
    out.push(token);
    if (out.length >= n) break;
  }
  console.log(out.join(","));
}
await context.dispose();
await model.dispose();
await llama.dispose();
