// Generation speed of llama.cpp (node-llama-cpp, CPU) on a GGUF, measured the
// way rbe-bench measures ours: a prompt of P random token ids in one batch,
// then greedy generation; W warm-up tokens, then the median time between
// successive generated tokens over G tokens. A first pass (prompt + 2 tokens)
// warms the caches up and is discarded. Prints one JSON line:
//   {"engine": "llama.cpp", "model", "threads", "prompt_tokens", "gen_tokens",
//    "prompt_ms", "pp_tokens_per_s", "gen_ms_per_token" (median),
//    "gen_ms_per_token_mean", "gen_ms_min", "llama_cpp_release", "node_llama_cpp"}
// End-of-text tokens do not stop the generation (the timing needs G tokens).
//
// Usage: node bench.mjs MODEL.gguf [--threads N] [--prompt-tokens P] [--gen-tokens G] [--seed S]
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const WARMUP = 4;

function parseArgs(argv) {
    const a = {model: null, threads: 1, prompt: 64, gen: 64, seed: 1};
    const int = (k, v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer, got '${v}'`);
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        if (k === "--threads") a.threads = int(k, argv[++i]);
        else if (k === "--prompt-tokens") a.prompt = int(k, argv[++i]);
        else if (k === "--gen-tokens") a.gen = int(k, argv[++i]);
        else if (k === "--seed") a.seed = int(k, argv[++i]);
        else if (!a.model && !k.startsWith("--")) a.model = k;
        else throw new Error(`unexpected argument '${k}'`);
    }
    if (!a.model) throw new Error("usage: node bench.mjs MODEL.gguf [--threads N] [--prompt-tokens P] [--gen-tokens G] [--seed S]");
    return a;
}

// Deterministic prompt ids in [0, vocab - 1) (the last id, GPT-2's <|endoftext|>, left out).
function promptIds(n, vocab, seed) {
    let x = BigInt(seed) * 0x9E3779B97F4A7C15n & 0xFFFFFFFFFFFFFFFFn;
    const ids = [];
    for (let i = 0; i < n; i++) {
        x = (x * 6364136223846793005n + 1442695040888963407n) & 0xFFFFFFFFFFFFFFFFn;
        ids.push(Number((x >> 33n) % BigInt(vocab - 1)));
    }
    return ids;
}

const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];

const args = parseArgs(process.argv.slice(2));
const llama = await getLlama({gpu: false, build: "never", maxThreads: args.threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: args.model, gpuLayers: 0});
const total = args.prompt + 1 + WARMUP + args.gen;
const context = await model.createContext({
    contextSize: total + 8,
    batchSize: args.prompt,
    threads: {ideal: args.threads, min: args.threads},
});
const sequence = context.getSequence();
const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
const ids = promptIds(args.prompt, vocab, args.seed);

// One pass: returns [ms from the start to the first token, ms between successive tokens].
async function run(tokens) {
    await sequence.clearHistory();
    const t0 = performance.now();
    let last = t0, first = 0;
    const deltas = [];
    let n = 0;
    for await (const token of sequence.evaluate(ids, {temperature: 0})) {
        void token;
        const now = performance.now();
        if (n === 0) first = now - t0;
        else deltas.push(now - last);
        last = now;
        if (++n >= tokens) break;
    }
    return [first, deltas];
}

await run(3);  // warm-up pass, discarded
const [promptMs, deltas] = await run(1 + WARMUP + args.gen);
const timed = deltas.slice(WARMUP);
if (timed.length !== args.gen) throw new Error(`expected ${args.gen} timed tokens, got ${timed.length}`);
const release = llama.llamaCppRelease ?? {};
const nlc = JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url))).version;
console.log(JSON.stringify({
    engine: "llama.cpp",
    model: args.model,
    threads: args.threads,
    prompt_tokens: args.prompt,
    gen_tokens: args.gen,
    prompt_ms: promptMs,
    pp_tokens_per_s: args.prompt / (promptMs / 1e3),
    gen_ms_per_token: median(timed),
    gen_ms_per_token_mean: timed.reduce((s, v) => s + v, 0) / timed.length,
    gen_ms_min: Math.min(...timed),
    llama_cpp_release: release.release ?? null,
    node_llama_cpp: nlc,
}));
await context.dispose();
await model.dispose();
await llama.dispose();
