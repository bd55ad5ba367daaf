<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ko_KR">
<context>
    <name>BlockHeatmap</name>
    <message>
        <source>Block %1
Rows %2–%3, columns %4–%5 (%6 × %7)
Grade %8
RMSE %9 (relative %10)
Bits %11 (%12 bits/weight)</source>
        <translation>블록 %1
행 %2–%3, 열 %4–%5 (%6 × %7)
등급 %8
RMSE %9 (상대 %10)
비트 %11 (가중치당 %12비트)</translation>
    </message>
    <message>
        <source>No blocks to show.
Compress the model and select a tensor.</source>
        <translation>표시할 블록이 없습니다.
모델을 압축한 뒤 텐서를 선택하세요.</translation>
    </message>
    <message>
        <source>RMSE</source>
        <translation>RMSE</translation>
    </message>
</context>
<context>
    <name>ChatPanel</name>
    <message>
        <source>Generate</source>
        <translation>생성</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>중지</translation>
    </message>
    <message>
        <source>Also run the compressed model</source>
        <translation>압축된 모델도 실행</translation>
    </message>
    <message>
        <source>Original model</source>
        <translation>원본 모델</translation>
    </message>
    <message>
        <source>Compressed model</source>
        <translation>압축된 모델</translation>
    </message>
    <message>
        <source>Type a prompt, then press Ctrl+Return</source>
        <translation>프롬프트를 입력한 뒤 Ctrl+Return을 누르세요</translation>
    </message>
    <message>
        <source>Generate from the prompt (Ctrl+Return)</source>
        <translation>프롬프트로 생성 (Ctrl+Return)</translation>
    </message>
    <message>
        <source>Stop generating (Esc)</source>
        <translation>생성 중지 (Esc)</translation>
    </message>
    <message>
        <source>Prompt:</source>
        <translation>프롬프트:</translation>
    </message>
    <message>
        <source>%1 tokens · %2 tokens/s</source>
        <translation>토큰 %1개 · 초당 %2 토큰</translation>
    </message>
    <message>
        <source>Open a model first.</source>
        <translation>먼저 모델을 여세요.</translation>
    </message>
    <message>
        <source>Waiting for the original model to finish…</source>
        <translation>원본 모델이 끝나기를 기다리는 중…</translation>
    </message>
    <message>
        <source>%1 tokens · %2 tokens/s · peak memory %3 · %4</source>
        <translation>토큰 %1개 · 초당 %2 토큰 · 최대 메모리 %3 · %4</translation>
    </message>
    <message>
        <source>Error: %1</source>
        <translation>오류: %1</translation>
    </message>
    <message>
        <source>Generation failed: %1</source>
        <translation>생성 실패: %1</translation>
    </message>
    <message>
        <source>Not run: the original model&apos;s run was stopped or failed.</source>
        <translation>실행하지 않음: 원본 모델의 실행이 중지되었거나 실패했습니다.</translation>
    </message>
    <message>
        <source>Press Generate (Ctrl+Return) to stream text from the opened model.</source>
        <translation>생성(Ctrl+Return)을 누르면 열린 모델의 텍스트가 실시간으로 표시됩니다.</translation>
    </message>
    <message>
        <source>Open a model to chat with it.</source>
        <translation>대화하려면 모델을 여세요.</translation>
    </message>
    <message>
        <source>The compressed model answers the same prompt here, after the original.</source>
        <translation>원본 다음에 압축된 모델이 같은 프롬프트에 여기서 답합니다.</translation>
    </message>
    <message>
        <source>Compress the model (Compress panel) to compare its text with the original&apos;s here.</source>
        <translation>모델을 압축하면(압축 패널) 여기서 원본의 텍스트와 비교할 수 있습니다.</translation>
    </message>
    <message>
        <source>Making an f16 copy of the model&apos;s matrices…</source>
        <translation>모델 행렬의 f16 사본을 만드는 중…</translation>
    </message>
</context>
<context>
    <name>CodecOverrideTable</name>
    <message>
        <source>Tensor pattern</source>
        <translation>텐서 패턴</translation>
    </message>
    <message>
        <source>Codec</source>
        <translation>코덱</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>저장 방식</translation>
    </message>
    <message>
        <source>Target</source>
        <translation>목표</translation>
    </message>
    <message>
        <source>Block size</source>
        <translation>블록 크기</translation>
    </message>
    <message>
        <source>A glob on tensor names, e.g. h.*.mlp.* or wte.weight; the first matching row wins</source>
        <translation>텐서 이름에 대한 glob 패턴(예: h.*.mlp.* 또는 wte.weight). 처음 일치하는 행이 적용됩니다</translation>
    </message>
    <message>
        <source>A quality grade (S+, S, A+, A, B+, B, C+, C) or bits per weight (e.g. 3.5); empty: the default</source>
        <translation>품질 등급(S+, S, A+, A, B+, B, C+, C) 또는 가중치당 비트 수(예: 3.5). 비워 두면 기본값</translation>
    </message>
    <message>
        <source>Override row %1: %2</source>
        <translation>재정의 %1행: %2</translation>
    </message>
    <message>
        <source>the tensor pattern is empty</source>
        <translation>텐서 패턴이 비어 있습니다</translation>
    </message>
    <message>
        <source>unknown codec &quot;%1&quot; (use rbe, q8_0, q4_0, f16 or f32)</source>
        <translation>알 수 없는 코덱 &quot;%1&quot; (rbe, q8_0, q4_0, f16, f32 중 하나를 쓰세요)</translation>
    </message>
    <message>
        <source>unknown storage &quot;%1&quot; (use fixed or entropy)</source>
        <translation>알 수 없는 저장 방식 &quot;%1&quot; (fixed 또는 entropy를 쓰세요)</translation>
    </message>
    <message>
        <source>bits per weight %1 is out of range (0, 32]</source>
        <translation>가중치당 비트 수 %1이(가) 범위 (0, 32]를 벗어났습니다</translation>
    </message>
    <message>
        <source>the target &quot;%1&quot; is neither a grade (S+ … C) nor a number of bits per weight</source>
        <translation>목표 &quot;%1&quot;은(는) 등급(S+ … C)도 가중치당 비트 수도 아닙니다</translation>
    </message>
    <message>
        <source>block size &quot;%1&quot; is not a whole number in [4, 1024]</source>
        <translation>블록 크기 &quot;%1&quot;은(는) [4, 1024] 범위의 정수가 아닙니다</translation>
    </message>
</context>
<context>
    <name>CodecSettingsForm</name>
    <message>
        <source>RBE</source>
        <translation>RBE</translation>
    </message>
    <message>
        <source>Q8_0 (8.5 bits/weight)</source>
        <translation>Q8_0 (가중치당 8.5비트)</translation>
    </message>
    <message>
        <source>Q4_0 (4.5 bits/weight)</source>
        <translation>Q4_0 (가중치당 4.5비트)</translation>
    </message>
    <message>
        <source>Fixed rate (runs packed)</source>
        <translation>고정 비율 (압축된 채로 실행)</translation>
    </message>
    <message>
        <source>Entropy coded (smallest, decoded on load)</source>
        <translation>엔트로피 부호화 (가장 작음, 불러올 때 복원)</translation>
    </message>
    <message>
        <source>Bits per weight</source>
        <translation>가중치당 비트</translation>
    </message>
    <message>
        <source>Quality grade</source>
        <translation>품질 등급</translation>
    </message>
    <message>
        <source> bits/weight</source>
        <translation> 비트/가중치</translation>
    </message>
    <message>
        <source>%1 (relative RMSE ≤ %2)</source>
        <translation>%1 (상대 RMSE ≤ %2)</translation>
    </message>
    <message>
        <source>&amp;Codec:</source>
        <translation>코덱(&amp;C):</translation>
    </message>
    <message>
        <source>&amp;Storage:</source>
        <translation>저장 방식(&amp;S):</translation>
    </message>
    <message>
        <source>&amp;Target:</source>
        <translation>목표(&amp;T):</translation>
    </message>
    <message>
        <source>&amp;Block size:</source>
        <translation>블록 크기(&amp;B):</translation>
    </message>
    <message>
        <source>T&amp;ransform:</source>
        <translation>변환(&amp;R):</translation>
    </message>
    <message>
        <source>, grade %1</source>
        <translation>, 등급 %1</translation>
    </message>
    <message>
        <source>, %1 bits/weight</source>
        <translation>, 가중치당 %1비트</translation>
    </message>
    <message>
        <source>, block %1, %2</source>
        <translation>, 블록 %1, %2</translation>
    </message>
</context>
<context>
    <name>CompressPanel</name>
    <message>
        <source>Default codec</source>
        <translation>기본 코덱</translation>
    </message>
    <message>
        <source>Per-layer overrides</source>
        <translation>레이어별 재정의</translation>
    </message>
    <message>
        <source>&amp;Add</source>
        <translation>추가(&amp;A)</translation>
    </message>
    <message>
        <source>Re&amp;move</source>
        <translation>제거(&amp;M)</translation>
    </message>
    <message>
        <source>Add an override: tensors whose name matches the pattern use these settings</source>
        <translation>재정의 추가: 이름이 패턴과 일치하는 텐서는 이 설정을 사용합니다</translation>
    </message>
    <message>
        <source>Validation</source>
        <translation>검증</translation>
    </message>
    <message>
        <source>Text file (optional): loss on its last 10%</source>
        <translation>텍스트 파일(선택): 마지막 10%에서 손실을 잽니다</translation>
    </message>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
    <message>
        <source>Choose a text file</source>
        <translation>텍스트 파일 선택</translation>
    </message>
    <message>
        <source>Calibrate rounding on the text&apos;s first 90%</source>
        <translation>텍스트의 앞 90%로 반올림 보정</translation>
    </message>
    <message>
        <source>&amp;Compress</source>
        <translation>압축(&amp;C)</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Colour by grade</source>
        <translation>등급별 색</translation>
    </message>
    <message>
        <source>Colour by RMSE</source>
        <translation>RMSE별 색</translation>
    </message>
    <message>
        <source>+</source>
        <translation>+</translation>
    </message>
    <message>
        <source>−</source>
        <translation>−</translation>
    </message>
    <message>
        <source>Fit</source>
        <translation>맞춤</translation>
    </message>
    <message>
        <source>Zoom in (or use the mouse wheel)</source>
        <translation>확대 (마우스 휠도 가능)</translation>
    </message>
    <message>
        <source>Zoom out</source>
        <translation>축소</translation>
    </message>
    <message>
        <source>Show the whole tensor</source>
        <translation>텐서 전체 보기</translation>
    </message>
    <message>
        <source>Blocks</source>
        <translation>블록</translation>
    </message>
    <message>
        <source>Error per layer</source>
        <translation>레이어별 오차</translation>
    </message>
    <message>
        <source>Rate–distortion</source>
        <translation>비트율–왜곡</translation>
    </message>
    <message>
        <source>Validation text</source>
        <translation>검증 텍스트</translation>
    </message>
    <message>
        <source>Text files (*.txt);;All files (*)</source>
        <translation>텍스트 파일 (*.txt);;모든 파일 (*)</translation>
    </message>
    <message>
        <source>Open a model first.</source>
        <translation>먼저 모델을 여세요.</translation>
    </message>
    <message>
        <source>%1. Fix the row or remove it, then compress again.</source>
        <translation>%1. 해당 행을 고치거나 제거한 뒤 다시 압축하세요.</translation>
    </message>
    <message>
        <source>The validation text %1 does not exist. Choose another file or clear the field.</source>
        <translation>검증 텍스트 %1이(가) 없습니다. 다른 파일을 고르거나 칸을 비우세요.</translation>
    </message>
    <message numerus="yes">
        <source> + %n override(s)</source>
        <translation>
            <numerusform> + 재정의 %n개</numerusform>
        </translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>시작하는 중…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>취소하는 중…</translation>
    </message>
    <message>
        <source>Cancelled; the previous results are kept.</source>
        <translation>취소됨. 이전 결과는 그대로 유지됩니다.</translation>
    </message>
    <message>
        <source>Compression cancelled</source>
        <translation>압축 취소됨</translation>
    </message>
    <message>
        <source>Failed: %1</source>
        <translation>실패: %1</translation>
    </message>
    <message>
        <source>Compression failed: %1</source>
        <translation>압축 실패: %1</translation>
    </message>
    <message>
        <source>Compression failed</source>
        <translation>압축 실패</translation>
    </message>
    <message>
        <source>The compression did not finish:

%1

Check the settings (codec, target, overrides) and the validation text, then try again.</source>
        <translation>압축을 끝내지 못했습니다:

%1

설정(코덱, 목표, 재정의)과 검증 텍스트를 확인한 뒤 다시 시도하세요.</translation>
    </message>
    <message>
        <source>The model changed during the run; its results were discarded.</source>
        <translation>실행 중에 모델이 바뀌어 결과를 버렸습니다.</translation>
    </message>
    <message>
        <source> entropy</source>
        <translation> 엔트로피</translation>
    </message>
    <message>
        <source> fixed</source>
        <translation> 고정</translation>
    </message>
    <message>
        <source>Run %1: %2</source>
        <translation>실행 %1: %2</translation>
    </message>
    <message>
        <source>Done in %1 s.</source>
        <translation>%1초 만에 완료.</translation>
    </message>
    <message>
        <source>Compression finished in %1 s</source>
        <translation>압축이 %1초 만에 끝났습니다</translation>
    </message>
    <message>
        <source>No compression yet: choose the settings and press Compress.</source>
        <translation>아직 압축하지 않았습니다. 설정을 고른 뒤 압축을 누르세요.</translation>
    </message>
    <message numerus="yes">
        <source>&lt;b&gt;%1 bits/weight&lt;/b&gt; over all parameters (%2), matrices %3 bits/weight, %n tensor(s) encoded.</source>
        <translation>
            <numerusform>전체 파라미터(%2) 기준 &lt;b&gt;가중치당 %1비트&lt;/b&gt;, 행렬은 가중치당 %3비트, 텐서 %n개 부호화.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%1: %n block(s)</source>
        <translation>
            <numerusform>%1: 블록 %n개</numerusform>
        </translation>
    </message>
    <message>
        <source>&lt;br&gt;Validation loss %1 → %2 nats/token (%3%4%), perplexity %5 → %6, on %7 held-out tokens.</source>
        <translation>&lt;br&gt;검증 손실 %1 → %2 nats/토큰 (%3%4%), 퍼플렉시티 %5 → %6, 검증용 토큰 %7개 기준.</translation>
    </message>
</context>
<context>
    <name>CompressWorker</name>
    <message>
        <source>no model is open</source>
        <translation>열린 모델이 없습니다</translation>
    </message>
    <message>
        <source>Preparing</source>
        <translation>준비 중</translation>
    </message>
    <message>
        <source>the model has no tokenizer to read the validation text with</source>
        <translation>검증 텍스트를 읽을 토크나이저가 모델에 없습니다</translation>
    </message>
    <message>
        <source>the model&apos;s tokenizer cannot read the validation text: %1</source>
        <translation>모델의 토크나이저가 검증 텍스트를 읽을 수 없습니다: %1</translation>
    </message>
    <message>
        <source>the validation text is too short (its last 10% must hold at least 2 tokens)</source>
        <translation>검증 텍스트가 너무 짧습니다 (마지막 10%에 토큰이 2개 이상 있어야 합니다)</translation>
    </message>
    <message>
        <source>Building the compressed model</source>
        <translation>압축된 모델을 만드는 중</translation>
    </message>
    <message>
        <source>Validation loss of the original model</source>
        <translation>원본 모델의 검증 손실</translation>
    </message>
    <message>
        <source>Validation loss of the compressed model</source>
        <translation>압축된 모델의 검증 손실</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>완료</translation>
    </message>
    <message>
        <source>calibration needs the model&apos;s file or folder; save the model and open it first</source>
        <translation>보정에는 모델의 파일이나 폴더가 필요합니다. 모델을 저장한 뒤 다시 여십시오</translation>
    </message>
    <message>
        <source>Loading a private copy of the model for calibration</source>
        <translation>보정용 모델 사본을 불러오는 중</translation>
    </message>
</context>
<context>
    <name>ExportJob</name>
    <message>
        <source>This model is already compressed but its records are not available; compress it in the Compress panel first.</source>
        <translation>이 모델은 이미 압축되어 있지만 그 레코드를 쓸 수 없습니다. 먼저 압축 패널에서 압축하세요.</translation>
    </message>
    <message>
        <source>Wrote %1 (%2 encoded tensors).</source>
        <translation>%1을(를) 썼습니다 (부호화된 텐서 %2개).</translation>
    </message>
    <message>
        <source>This model uses a character tokenizer, which a HuggingFace GPT-2 folder cannot hold. Export it as .rbe instead, or train a model with the GPT-2 tokenizer.</source>
        <translation>이 모델은 문자 단위 토크나이저를 쓰는데, HuggingFace GPT-2 폴더에는 이를 담을 수 없습니다. 대신 .rbe로 내보내거나 GPT-2 토크나이저로 모델을 학습하세요.</translation>
    </message>
    <message>
        <source>The model has no tokenizer, so the folder has none either.</source>
        <translation>모델에 토크나이저가 없어 폴더에도 없습니다.</translation>
    </message>
    <message>
        <source>Weights are the compressed model&apos;s, decoded.</source>
        <translation>가중치는 압축된 모델의 것을 복원한 값입니다.</translation>
    </message>
    <message>
        <source>No model is open.</source>
        <translation>열린 모델이 없습니다.</translation>
    </message>
    <message>
        <source>No destination was given.</source>
        <translation>저장할 위치가 지정되지 않았습니다.</translation>
    </message>
    <message>
        <source>This model cannot be written as GGUF: %1</source>
        <translation>이 모델은 GGUF로 쓸 수 없습니다: %1</translation>
    </message>
    <message>
        <source>Wrote the HuggingFace folder %1 (%2 weights).</source>
        <translation>HuggingFace 폴더 %1을(를) 썼습니다 (가중치 %2).</translation>
    </message>
    <message>
        <source>GGUF export writes F32 or F16 weights, not %1. Choose F32 or F16 under Export → Weight Precision.</source>
        <translation>GGUF 내보내기는 %1이 아니라 F32 또는 F16 가중치를 씁니다. 내보내기 → 가중치 정밀도에서 F32 또는 F16을 고르세요.</translation>
    </message>
    <message>
        <source>Wrote %1 (%2 tensors, %3 bytes, %4 weight matrices).</source>
        <translation>%1을(를) 썼습니다 (텐서 %2개, %3바이트, 가중치 행렬 %4).</translation>
    </message>
</context>
<context>
    <name>GenerationJob</name>
    <message>
        <source>No model is open.</source>
        <translation>열린 모델이 없습니다.</translation>
    </message>
    <message>
        <source>This model has no tokenizer (vocab.json and merges.txt are missing from its folder), so it cannot turn text into tokens.</source>
        <translation>이 모델에는 토크나이저가 없어(폴더에 vocab.json과 merges.txt가 없음) 텍스트를 토큰으로 바꿀 수 없습니다.</translation>
    </message>
    <message>
        <source>Type a prompt first.</source>
        <translation>먼저 프롬프트를 입력하세요.</translation>
    </message>
    <message>
        <source>end of text</source>
        <translation>텍스트 끝</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>중지됨</translation>
    </message>
    <message>
        <source>context full</source>
        <translation>컨텍스트가 가득 참</translation>
    </message>
    <message>
        <source>maximum length reached</source>
        <translation>최대 길이에 도달</translation>
    </message>
</context>
<context>
    <name>LayerErrorChart</name>
    <message>
        <source>Relative RMSE per layer</source>
        <translation>레이어별 상대 RMSE</translation>
    </message>
    <message>
        <source>other: %1</source>
        <translation>기타: %1</translation>
    </message>
    <message>
        <source>other</source>
        <translation>기타</translation>
    </message>
    <message>
        <source>Layer</source>
        <translation>레이어</translation>
    </message>
    <message>
        <source>Relative RMSE</source>
        <translation>상대 RMSE</translation>
    </message>
    <message>
        <source>Relative RMSE per layer (compress the model to see it)</source>
        <translation>레이어별 상대 RMSE (모델을 압축하면 보입니다)</translation>
    </message>
</context>
<context>
    <name>LossChart</name>
    <message>
        <source>Loss</source>
        <translation>손실</translation>
    </message>
    <message>
        <source>training loss</source>
        <translation>학습 손실</translation>
    </message>
    <message>
        <source>validation loss</source>
        <translation>검증 손실</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>스텝</translation>
    </message>
    <message>
        <source>Loss (nats/token)</source>
        <translation>손실 (nats/토큰)</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>&amp;Model</source>
        <translation>모델(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;Compress</source>
        <translation>압축(&amp;C)</translation>
    </message>
    <message>
        <source>C&amp;hat</source>
        <translation>대화(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;Train</source>
        <translation>학습(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>파일(&amp;F)</translation>
    </message>
    <message>
        <source>Open &amp;Folder…</source>
        <translation>폴더 열기(&amp;F)…</translation>
    </message>
    <message>
        <source>Open a HuggingFace GPT-2 folder or an RBE checkpoint folder</source>
        <translation>HuggingFace GPT-2 폴더나 RBE 체크포인트 폴더를 엽니다</translation>
    </message>
    <message>
        <source>&amp;Open File…</source>
        <translation>파일 열기(&amp;O)…</translation>
    </message>
    <message>
        <source>Open an .rbe or .gguf file, or a file inside a model folder</source>
        <translation>.rbe나 .gguf 파일, 또는 모델 폴더 안의 파일을 엽니다</translation>
    </message>
    <message>
        <source>Open &amp;Recent</source>
        <translation>최근 항목 열기(&amp;R)</translation>
    </message>
    <message>
        <source>Open the &amp;Default Model</source>
        <translation>기본 모델 열기(&amp;D)</translation>
    </message>
    <message>
        <source>Default model not found</source>
        <translation>기본 모델을 찾을 수 없음</translation>
    </message>
    <message>
        <source>The embedded default model (mini-shakespeare) is missing.</source>
        <translation>내장 기본 모델(mini-shakespeare)이 없습니다.</translation>
    </message>
    <message>
        <source>Reinstall RBE Workbench, or open a model folder with File → Open Folder….</source>
        <translation>RBE 워크벤치를 다시 설치하거나 파일 → 폴더 열기…로 모델 폴더를 여세요.</translation>
    </message>
    <message>
        <source>Open the Mini GPT-2 trained on Tiny Shakespeare that ships with the workbench</source>
        <translation>워크벤치에 포함된, Tiny Shakespeare로 학습한 Mini GPT-2를 엽니다</translation>
    </message>
    <message>
        <source>&amp;Export</source>
        <translation>내보내기(&amp;E)</translation>
    </message>
    <message>
        <source>As .&amp;rbe File…</source>
        <translation>.rbe 파일로(&amp;R)…</translation>
    </message>
    <message>
        <source>Write the compression (or a compression at default settings) as an .rbe file</source>
        <translation>압축 결과(없으면 기본 설정으로 압축한 결과)를 .rbe 파일로 씁니다</translation>
    </message>
    <message>
        <source>As &amp;HuggingFace Folder…</source>
        <translation>HuggingFace 폴더로(&amp;H)…</translation>
    </message>
    <message>
        <source>As &amp;GGUF File…</source>
        <translation>GGUF 파일로(&amp;G)…</translation>
    </message>
    <message>
        <source>Use the &amp;Compressed Weights (HF, GGUF)</source>
        <translation>압축된 가중치 사용(&amp;C) (HF, GGUF)</translation>
    </message>
    <message>
        <source>Write the compressed model&apos;s weights, decoded, instead of the original&apos;s</source>
        <translation>원본 대신 압축된 모델의 가중치를 복원해서 씁니다</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>끝내기(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>보기(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Language</source>
        <translation>언어(&amp;L)</translation>
    </message>
    <message>
        <source>System Default</source>
        <translation>시스템 기본값</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>도움말(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About RBE Workbench</source>
        <translation>RBE 워크벤치 정보(&amp;A)</translation>
    </message>
    <message>
        <source>About RBE Workbench</source>
        <translation>RBE 워크벤치 정보</translation>
    </message>
    <message>
        <source>&lt;h3&gt;RBE Workbench %1&lt;/h3&gt;&lt;p&gt;Open, compress, inspect, chat with, train and export GPT-2 models. RBE (Riemannian Basis Encoding) stores weight matrices as compact generator records plus a transform-domain residual.&lt;/p&gt;</source>
        <translation>&lt;h3&gt;RBE 워크벤치 %1&lt;/h3&gt;&lt;p&gt;GPT-2 모델을 열고, 압축하고, 살펴보고, 대화하고, 학습하고, 내보냅니다. RBE(Riemannian Basis Encoding)는 가중치 행렬을 간결한 생성자 레코드와 변환 영역 잔차로 저장합니다.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>기본</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>취소</translation>
    </message>
    <message>
        <source>Stop waiting for the model; it finishes loading in the background and is discarded</source>
        <translation>모델을 더 기다리지 않습니다. 모델은 백그라운드에서 마저 불러온 뒤 버려집니다</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>%1 불러오는 중…</translation>
    </message>
    <message>
        <source>Could not open %1</source>
        <translation>%1을(를) 열 수 없습니다</translation>
    </message>
    <message>
        <source>Could not open the model</source>
        <translation>모델을 열 수 없습니다</translation>
    </message>
    <message>
        <source>Choose a folder with config.json and model.safetensors (a HuggingFace GPT-2 folder or an RBE checkpoint), or an .rbe or .gguf file.</source>
        <translation>config.json과 model.safetensors가 있는 폴더(HuggingFace GPT-2 폴더 또는 RBE 체크포인트)나 .rbe 또는 .gguf 파일을 고르세요.</translation>
    </message>
    <message>
        <source>Opened %1 in %2 s</source>
        <translation>%1을(를) %2초 만에 열었습니다</translation>
    </message>
    <message>
        <source>Stopped waiting for %1</source>
        <translation>%1 기다리기를 멈췄습니다</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>취소됨</translation>
    </message>
    <message>
        <source>Open Model Folder</source>
        <translation>모델 폴더 열기</translation>
    </message>
    <message>
        <source>Open Model File</source>
        <translation>모델 파일 열기</translation>
    </message>
    <message>
        <source>Models (*.rbe *.gguf config.json *.safetensors);;RBE files (*.rbe);;GGUF files (*.gguf);;All files (*)</source>
        <translation>모델 (*.rbe *.gguf config.json *.safetensors);;RBE 파일 (*.rbe);;GGUF 파일 (*.gguf);;모든 파일 (*)</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>(없음)</translation>
    </message>
    <message>
        <source>&amp;Clear List</source>
        <translation>목록 지우기(&amp;C)</translation>
    </message>
    <message>
        <source>Export as .rbe</source>
        <translation>.rbe로 내보내기</translation>
    </message>
    <message>
        <source>RBE files (*.rbe)</source>
        <translation>RBE 파일 (*.rbe)</translation>
    </message>
    <message>
        <source>Export as GGUF</source>
        <translation>GGUF로 내보내기</translation>
    </message>
    <message>
        <source>GGUF files (*.gguf)</source>
        <translation>GGUF 파일 (*.gguf)</translation>
    </message>
    <message>
        <source>Export as HuggingFace Folder (choose or create an empty folder)</source>
        <translation>HuggingFace 폴더로 내보내기 (빈 폴더를 고르거나 만드세요)</translation>
    </message>
    <message>
        <source>Folder not empty</source>
        <translation>폴더가 비어 있지 않음</translation>
    </message>
    <message>
        <source>%1 already holds files. Write the model there anyway? Files with the same names are replaced.</source>
        <translation>%1에 이미 파일이 있습니다. 그래도 모델을 쓸까요? 이름이 같은 파일은 바뀝니다.</translation>
    </message>
    <message>
        <source>An export is already running.</source>
        <translation>이미 내보내는 중입니다.</translation>
    </message>
    <message>
        <source>Exporting %1…</source>
        <translation>%1 내보내는 중…</translation>
    </message>
    <message>
        <source>No compression yet: compressing at default settings first…</source>
        <translation>아직 압축하지 않았습니다. 먼저 기본 설정으로 압축하는 중…</translation>
    </message>
    <message>
        <source>Export failed</source>
        <translation>내보내기 실패</translation>
    </message>
    <message>
        <source>Check that the destination is writable and has free space, or choose another format.</source>
        <translation>저장 위치에 쓸 수 있고 여유 공간이 있는지 확인하거나 다른 형식을 고르세요.</translation>
    </message>
    <message>
        <source>%1 — RBE Workbench</source>
        <translation>%1 — RBE 워크벤치</translation>
    </message>
    <message>
        <source>RBE Workbench</source>
        <translation>RBE 워크벤치</translation>
    </message>
    <message>
        <source>The language changes the next time RBE Workbench starts.</source>
        <translation>언어는 RBE 워크벤치를 다음에 시작할 때 바뀝니다.</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>언어</translation>
    </message>
    <message>
        <source>Weight &amp;Precision (HF, GGUF)</source>
        <translation>가중치 정밀도(&amp;P) (HF, GGUF)</translation>
    </message>
    <message>
        <source>&amp;Format Default (HF F32, GGUF F16)</source>
        <translation>형식 기본값(&amp;F) (HF F32, GGUF F16)</translation>
    </message>
    <message>
        <source>F&amp;32</source>
        <translation>F&amp;32</translation>
    </message>
    <message>
        <source>F&amp;16</source>
        <translation>F&amp;16</translation>
    </message>
    <message>
        <source>&amp;BF16 (HF only)</source>
        <translation>&amp;BF16 (HF 전용)</translation>
    </message>
</context>
<context>
    <name>ModelPanel</name>
    <message>
        <source>Model</source>
        <translation>모델</translation>
    </message>
    <message>
        <source>Location:</source>
        <translation>위치:</translation>
    </message>
    <message>
        <source>Format:</source>
        <translation>형식:</translation>
    </message>
    <message>
        <source>Architecture:</source>
        <translation>구조:</translation>
    </message>
    <message>
        <source>Parameters:</source>
        <translation>파라미터:</translation>
    </message>
    <message>
        <source>Size on disk:</source>
        <translation>디스크 크기:</translation>
    </message>
    <message>
        <source>Weights in memory:</source>
        <translation>메모리의 가중치:</translation>
    </message>
    <message>
        <source>Weight types:</source>
        <translation>가중치 자료형:</translation>
    </message>
    <message>
        <source>Tokenizer:</source>
        <translation>토크나이저:</translation>
    </message>
    <message>
        <source>Compression:</source>
        <translation>압축:</translation>
    </message>
    <message>
        <source>No model open. Use File → Open Folder… or drop a model folder here.</source>
        <translation>열린 모델이 없습니다. 파일 → 폴더 열기…를 쓰거나 모델 폴더를 여기로 끌어 놓으세요.</translation>
    </message>
    <message>
        <source>HuggingFace GPT-2 folder</source>
        <translation>HuggingFace GPT-2 폴더</translation>
    </message>
    <message>
        <source>RBE checkpoint folder</source>
        <translation>RBE 체크포인트 폴더</translation>
    </message>
    <message>
        <source>RBE compressed file (.rbe)</source>
        <translation>RBE 압축 파일 (.rbe)</translation>
    </message>
    <message>
        <source>GGUF file</source>
        <translation>GGUF 파일</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>%1 bits/weight over the encoded matrices (%2 of %3 tensors encoded)</source>
        <translation>부호화된 행렬 기준 가중치당 %1비트 (텐서 %3개 중 %2개 부호화)</translation>
    </message>
    <message>
        <source>not compressed (use the Compress panel)</source>
        <translation>압축 안 됨 (압축 패널을 쓰세요)</translation>
    </message>
</context>
<context>
    <name>ModelSummary</name>
    <message>
        <source>GPT-2: %1 layers, %2 wide, %3 heads, context %4, %5, %6, %7</source>
        <translation>GPT-2: 레이어 %1개, 폭 %2, 헤드 %3개, 컨텍스트 %4, %5, %6, %7</translation>
    </message>
    <message>
        <source>tied head</source>
        <translation>임베딩 공유 헤드</translation>
    </message>
    <message>
        <source>separate head</source>
        <translation>별도 헤드</translation>
    </message>
    <message>
        <source>none (the folder has no tokenizer files)</source>
        <translation>없음 (폴더에 토크나이저 파일이 없음)</translation>
    </message>
    <message>
        <source>characters, %1 symbols</source>
        <translation>문자 단위, 기호 %1개</translation>
    </message>
    <message>
        <source>GPT-2 byte-level BPE, %1 tokens</source>
        <translation>GPT-2 바이트 수준 BPE, 토큰 %1개</translation>
    </message>
    <message>
        <source>%1 (packed)</source>
        <translation>%1 (압축 형식)</translation>
    </message>
</context>
<context>
    <name>QObject</name>
    <message>
        <source>cannot read the validation text %1: %2</source>
        <translation>검증 텍스트 %1을(를) 읽을 수 없습니다: %2</translation>
    </message>
    <message>
        <source>choose a text file to train on</source>
        <translation>학습할 텍스트 파일을 고르세요</translation>
    </message>
    <message>
        <source>cannot read %1: %2</source>
        <translation>%1을(를) 읽을 수 없습니다: %2</translation>
    </message>
    <message>
        <source>%1 is empty</source>
        <translation>%1이(가) 비어 있습니다</translation>
    </message>
</context>
<context>
    <name>RdChart</name>
    <message>
        <source>Rate–distortion (needs a validation text)</source>
        <translation>비트율–왜곡 (검증 텍스트가 필요합니다)</translation>
    </message>
    <message>
        <source>Rate–distortion of this session&apos;s runs</source>
        <translation>이번 세션 실행들의 비트율–왜곡</translation>
    </message>
    <message>
        <source>Validation loss (nats/token)</source>
        <translation>검증 손실 (nats/토큰)</translation>
    </message>
    <message>
        <source>original model</source>
        <translation>원본 모델</translation>
    </message>
    <message>
        <source>%1
%2 bits/weight, validation loss %3</source>
        <translation>%1
가중치당 %2비트, 검증 손실 %3</translation>
    </message>
    <message>
        <source>Bits per weight (all parameters)</source>
        <translation>가중치당 비트 (전체 파라미터)</translation>
    </message>
</context>
<context>
    <name>SamplingForm</name>
    <message>
        <source>Sampling</source>
        <translation>샘플링</translation>
    </message>
    <message>
        <source>0 picks the most likely token every time (greedy).</source>
        <translation>0이면 매번 가장 가능성 높은 토큰을 고릅니다 (탐욕적).</translation>
    </message>
    <message>
        <source>f32 (exact)</source>
        <translation>f32 (정확)</translation>
    </message>
    <message>
        <source>f16 (half the memory)</source>
        <translation>f16 (메모리 절반)</translation>
    </message>
    <message>
        <source>KV cache:</source>
        <translation>KV 캐시:</translation>
    </message>
    <message>
        <source>off</source>
        <translation>끔</translation>
    </message>
    <message>
        <source>Sample only from the k most likely tokens (0 = off).</source>
        <translation>가능성이 가장 높은 토큰 k개 중에서만 뽑습니다 (0 = 끔).</translation>
    </message>
    <message>
        <source>Sample from the smallest set of tokens whose probabilities add up to p (1 = off).</source>
        <translation>확률 합이 p가 되는 가장 작은 토큰 집합에서 뽑습니다 (1 = 끔).</translation>
    </message>
    <message>
        <source>Penalise tokens that already appeared (1 = off).</source>
        <translation>이미 나온 토큰에 벌점을 줍니다 (1 = 끔).</translation>
    </message>
    <message>
        <source>The same seed, prompt and settings give the same text.</source>
        <translation>시드, 프롬프트, 설정이 같으면 같은 텍스트가 나옵니다.</translation>
    </message>
    <message>
        <source>Temperature:</source>
        <translation>온도:</translation>
    </message>
    <message>
        <source>Top-k:</source>
        <translation>Top-k:</translation>
    </message>
    <message>
        <source>Top-p:</source>
        <translation>Top-p:</translation>
    </message>
    <message>
        <source>Repetition penalty:</source>
        <translation>반복 벌점:</translation>
    </message>
    <message>
        <source>Max tokens:</source>
        <translation>최대 토큰 수:</translation>
    </message>
    <message>
        <source>Seed:</source>
        <translation>시드:</translation>
    </message>
    <message>
        <source>f32 (as opened)</source>
        <translation>f32 (연 그대로)</translation>
    </message>
    <message>
        <source>f16 copy (half the memory)</source>
        <translation>f16 사본 (메모리 절반)</translation>
    </message>
    <message>
        <source>The original model&apos;s matrices for the chat. f16 runs a copy of the model with its matrices rounded to f16, made at the first run: they take half the memory and generate faster, and the text can differ slightly. The compressed model runs as compressed.</source>
        <translation>채팅에 쓰는 원본 모델의 행렬입니다. f16은 행렬을 f16으로 반올림한 모델 사본(첫 실행 때 만듦)으로 실행합니다. 메모리는 절반이고 생성이 더 빠르지만, 텍스트가 조금 달라질 수 있습니다. 압축된 모델은 압축된 그대로 실행합니다.</translation>
    </message>
    <message>
        <source>Weights:</source>
        <translation>가중치:</translation>
    </message>
    <message>
        <source>as the weights</source>
        <translation>가중치와 같게</translation>
    </message>
    <message>
        <source>How the keys and values of the text so far are stored. f16 halves their memory and is faster at long contexts; the text can differ slightly. &quot;As the weights&quot;: f32 for a model with f32 matrices, f16 for an f16 copy or a compressed model.</source>
        <translation>지금까지의 텍스트에 대한 키와 값을 저장하는 형식입니다. f16은 메모리를 절반으로 줄이고 긴 문맥에서 더 빠르지만, 텍스트가 조금 달라질 수 있습니다. &quot;가중치와 같게&quot;: 행렬이 f32인 모델은 f32, f16 복사본이나 압축된 모델은 f16입니다.</translation>
    </message>
</context>
<context>
    <name>ScreenshotRunner</name>
    <message>
        <source>timed out after %1 s</source>
        <translation>%1초 후 시간 초과</translation>
    </message>
    <message>
        <source>the default model was not found; pass --model PATH</source>
        <translation>기본 모델을 찾을 수 없습니다. --model PATH를 지정하세요</translation>
    </message>
    <message>
        <source>could not open the model: %1</source>
        <translation>모델을 열 수 없습니다: %1</translation>
    </message>
    <message>
        <source>the compression failed: %1</source>
        <translation>압축 실패: %1</translation>
    </message>
    <message>
        <source>generation failed</source>
        <translation>생성 실패</translation>
    </message>
    <message>
        <source>the train panel needs a text file: pass --train-text FILE</source>
        <translation>학습 패널에는 텍스트 파일이 필요합니다. --train-text FILE을 지정하세요</translation>
    </message>
    <message>
        <source>training failed: %1</source>
        <translation>학습 실패: %1</translation>
    </message>
    <message>
        <source>could not write %1</source>
        <translation>%1을(를) 쓸 수 없습니다</translation>
    </message>
    <message>
        <source>wrote %1 (%2 × %3)</source>
        <translation>%1을(를) 썼습니다 (%2 × %3)</translation>
    </message>
</context>
<context>
    <name>TensorQualityModel</name>
    <message>
        <source>Tensor</source>
        <translation>텐서</translation>
    </message>
    <message>
        <source>Shape</source>
        <translation>모양</translation>
    </message>
    <message>
        <source>Codec</source>
        <translation>코덱</translation>
    </message>
    <message>
        <source>Bits/weight</source>
        <translation>비트/가중치</translation>
    </message>
    <message>
        <source>RMSE</source>
        <translation>RMSE</translation>
    </message>
    <message>
        <source>Rel. RMSE</source>
        <translation>상대 RMSE</translation>
    </message>
    <message>
        <source>SNR (dB)</source>
        <translation>SNR (dB)</translation>
    </message>
    <message>
        <source>Grades</source>
        <translation>등급 분포</translation>
    </message>
</context>
<context>
    <name>TensorTreeModel</name>
    <message>
        <source>Block %1</source>
        <translation>블록 %1</translation>
    </message>
    <message>
        <source>Embeddings</source>
        <translation>임베딩</translation>
    </message>
    <message>
        <source>Final layer norm</source>
        <translation>최종 레이어 정규화</translation>
    </message>
    <message>
        <source>Output head</source>
        <translation>출력 헤드</translation>
    </message>
    <message>
        <source>Other</source>
        <translation>기타</translation>
    </message>
    <message>
        <source> (fixed)</source>
        <translation> (고정)</translation>
    </message>
    <message>
        <source> (entropy)</source>
        <translation> (엔트로피)</translation>
    </message>
    <message>
        <source>raw</source>
        <translation>원본 그대로</translation>
    </message>
    <message>
        <source>Tensor</source>
        <translation>텐서</translation>
    </message>
    <message>
        <source>Shape</source>
        <translation>모양</translation>
    </message>
    <message>
        <source>Type</source>
        <translation>자료형</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>파라미터</translation>
    </message>
    <message>
        <source>Codec</source>
        <translation>코덱</translation>
    </message>
    <message>
        <source>Bits/weight</source>
        <translation>비트/가중치</translation>
    </message>
    <message>
        <source>RMSE</source>
        <translation>RMSE</translation>
    </message>
    <message>
        <source>Grade</source>
        <translation>등급</translation>
    </message>
</context>
<context>
    <name>TrainPanel</name>
    <message>
        <source>%1 h %2 min</source>
        <translation>%1시간 %2분</translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation>%1분 %2초</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1초</translation>
    </message>
    <message>
        <source>Choose a text file and press Start. The last 10% of the text is the validation set.</source>
        <translation>텍스트 파일을 고르고 시작을 누르세요. 텍스트의 마지막 10%는 검증용입니다.</translation>
    </message>
    <message>
        <source>Data</source>
        <translation>데이터</translation>
    </message>
    <message>
        <source>A plain text file (UTF-8 or bytes)</source>
        <translation>일반 텍스트 파일 (UTF-8 또는 바이트)</translation>
    </message>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
    <message>
        <source>Choose the training text</source>
        <translation>학습 텍스트 선택</translation>
    </message>
    <message>
        <source>&amp;Text file:</source>
        <translation>텍스트 파일(&amp;T):</translation>
    </message>
    <message>
        <source>Training text</source>
        <translation>학습 텍스트</translation>
    </message>
    <message>
        <source>Text files (*.txt);;All files (*)</source>
        <translation>텍스트 파일 (*.txt);;모든 파일 (*)</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>모델</translation>
    </message>
    <message>
        <source>Mini GPT-2 (2 layers, 256 dim)</source>
        <translation>Mini GPT-2 (레이어 2개, 256차원)</translation>
    </message>
    <message>
        <source>Custom size</source>
        <translation>직접 지정</translation>
    </message>
    <message>
        <source>&amp;Preset:</source>
        <translation>프리셋(&amp;P):</translation>
    </message>
    <message>
        <source>Layers:</source>
        <translation>레이어:</translation>
    </message>
    <message>
        <source>Width (n_embd):</source>
        <translation>폭 (n_embd):</translation>
    </message>
    <message>
        <source>Heads:</source>
        <translation>헤드:</translation>
    </message>
    <message>
        <source>Context:</source>
        <translation>컨텍스트:</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>학습</translation>
    </message>
    <message>
        <source>automatic</source>
        <translation>자동</translation>
    </message>
    <message>
        <source>Tokens per training sequence; automatic: the context, at most 128</source>
        <translation>학습 시퀀스당 토큰 수. 자동이면 컨텍스트 길이(최대 128)</translation>
    </message>
    <message>
        <source>at the end only</source>
        <translation>마지막에만</translation>
    </message>
    <message>
        <source>&amp;Steps:</source>
        <translation>스텝(&amp;S):</translation>
    </message>
    <message>
        <source>&amp;Batch:</source>
        <translation>배치(&amp;B):</translation>
    </message>
    <message>
        <source>Sequence length:</source>
        <translation>시퀀스 길이:</translation>
    </message>
    <message>
        <source>&amp;Learning rate:</source>
        <translation>학습률(&amp;L):</translation>
    </message>
    <message>
        <source>Validate every:</source>
        <translation>검증 주기:</translation>
    </message>
    <message>
        <source>Checkpoints</source>
        <translation>체크포인트</translation>
    </message>
    <message>
        <source>Choose the checkpoint folder</source>
        <translation>체크포인트 폴더 선택</translation>
    </message>
    <message>
        <source>&amp;Folder:</source>
        <translation>폴더(&amp;F):</translation>
    </message>
    <message>
        <source>Save every:</source>
        <translation>저장 주기:</translation>
    </message>
    <message>
        <source>Checkpoint folder</source>
        <translation>체크포인트 폴더</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>시작(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>일시 정지(&amp;P)</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>중지(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;Open in workbench</source>
        <translation>워크벤치에서 열기(&amp;O)</translation>
    </message>
    <message>
        <source>Open the trained model&apos;s checkpoint in the workbench</source>
        <translation>학습한 모델의 체크포인트를 워크벤치에서 엽니다</translation>
    </message>
    <message>
        <source>Choose a text file to train on.</source>
        <translation>학습할 텍스트 파일을 고르세요.</translation>
    </message>
    <message>
        <source>The text file %1 does not exist; choose another.</source>
        <translation>텍스트 파일 %1이(가) 없습니다. 다른 파일을 고르세요.</translation>
    </message>
    <message>
        <source>Preparing the model and data…</source>
        <translation>모델과 데이터를 준비하는 중…</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>계속(&amp;R)</translation>
    </message>
    <message>
        <source>Paused after the current step.</source>
        <translation>현재 스텝이 끝난 뒤 일시 정지했습니다.</translation>
    </message>
    <message>
        <source>Training…</source>
        <translation>학습하는 중…</translation>
    </message>
    <message>
        <source>Stopping after the current step…</source>
        <translation>현재 스텝이 끝나면 멈춥니다…</translation>
    </message>
    <message>
        <source>%1 M parameters; %2 training and %3 validation characters.</source>
        <translation>파라미터 %1 M개, 학습 문자 %2개, 검증 문자 %3개.</translation>
    </message>
    <message>
        <source>Step %1 of %2 · loss %3 · %4 tokens/s · learning rate %5 · elapsed %6 · ETA %7</source>
        <translation>스텝 %1/%2 · 손실 %3 · 초당 %4 토큰 · 학습률 %5 · 경과 %6 · 남은 시간 %7</translation>
    </message>
    <message>
        <source> · validation loss %1</source>
        <translation> · 검증 손실 %1</translation>
    </message>
    <message>
        <source>Checkpoint saved to %1 (step %2)</source>
        <translation>체크포인트를 %1에 저장했습니다 (스텝 %2)</translation>
    </message>
    <message>
        <source>Finished after %1 steps.</source>
        <translation>%1 스텝 후 끝났습니다.</translation>
    </message>
    <message>
        <source>Finished after %1 steps; saved to %2.</source>
        <translation>%1 스텝 후 끝났고 %2에 저장했습니다.</translation>
    </message>
    <message>
        <source>Stopped at step %1.</source>
        <translation>스텝 %1에서 멈췄습니다.</translation>
    </message>
    <message>
        <source>Stopped at step %1; saved to %2.</source>
        <translation>스텝 %1에서 멈췄고 %2에 저장했습니다.</translation>
    </message>
    <message>
        <source>Failed: %1</source>
        <translation>실패: %1</translation>
    </message>
    <message>
        <source>Training failed</source>
        <translation>학습 실패</translation>
    </message>
    <message>
        <source>Training stopped with an error:

%1

Check the text file, the model size (the width must be divisible by the heads) and the checkpoint folder.</source>
        <translation>학습이 오류로 멈췄습니다:

%1

텍스트 파일, 모델 크기(폭은 헤드 수로 나누어떨어져야 함), 체크포인트 폴더를 확인하세요.</translation>
    </message>
</context>
<context>
    <name>TrainWorker</name>
    <message>
        <source>the sequence length %1 exceeds the model&apos;s context %2</source>
        <translation>시퀀스 길이 %1이(가) 모델의 컨텍스트 %2보다 깁니다</translation>
    </message>
    <message>
        <source>the text is too short: its first 90% holds %1 characters, fewer than a sequence (%2) plus one</source>
        <translation>텍스트가 너무 짧습니다: 앞 90%의 문자 %1개가 시퀀스 길이(%2)+1보다 적습니다</translation>
    </message>
</context>
</TS>
