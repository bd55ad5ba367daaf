// Loads a GGUF with llama.cpp (node-llama-cpp, CPU, 1 thread) and generates
// greedily. Prints one JSON line:
//   {"prompt_ids": [...], "llama_prompt_ids": [...], "ids": [...], "text": "..."}
// prompt_ids: the ids evaluated (from --ids, else llama.cpp's tokenization of
// --prompt); llama_prompt_ids: llama.cpp's own tokenization of --prompt.
//
// Usage: node generate.mjs MODEL.gguf --prompt TEXT [--ids 1,2,3] [--tokens N]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function parseArgs(argv) {
    const a = {model: null, prompt: "", ids: null, tokens: 16};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        if (k === "--prompt") a.prompt = argv[++i];
        else if (k === "--ids") a.ids = argv[++i].split(",").filter((s) => s !== "").map(Number);
        else if (k === "--tokens") a.tokens = Number(argv[++i]);
        else if (!a.model) a.model = k;
        else throw new Error(`unexpected argument '${k}'`);
    }
    if (!a.model) throw new Error("usage: node generate.mjs MODEL.gguf --prompt TEXT [--ids 1,2,3] [--tokens N]");
    return a;
}

const args = parseArgs(process.argv.slice(2));
const llama = await getLlama({gpu: false, build: "never", maxThreads: 1, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: args.model, gpuLayers: 0});
const context = await model.createContext({contextSize: 128, batchSize: 128, threads: 1});
const sequence = context.getSequence();

const llamaPromptIds = Array.from(model.tokenize(args.prompt, true));
const promptIds = args.ids ?? llamaPromptIds;
const ids = [];
if (args.tokens > 0) {
    for await (const token of sequence.evaluate(promptIds, {temperature: 0})) {
        if (model.isEogToken(token)) break;
        ids.push(token);
        if (ids.length >= args.tokens) break;
    }
}
const text = model.detokenize(ids);
console.log(JSON.stringify({prompt_ids: promptIds, llama_prompt_ids: llamaPromptIds, ids, text}));
await context.dispose();
await model.dispose();
await llama.dispose();
