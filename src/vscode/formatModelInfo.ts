import type { ModelInfo } from "../protocol/engineProtocol.js";

/** One line per fact, for the log and the notification. */
export function formatModelInfo(info: ModelInfo): string {
  return [
    `${info.path}`,
    `${info.architecture}, ${info.layers} layers, embedding ${info.embeddingSize}`,
    `context ${info.contextLength}, vocabulary ${info.vocabSize}`,
    `${(info.fileSize / 1048576).toFixed(1)} MiB, chat template: ${info.hasChatTemplate ? info.chatWrapper : "none"}`,
    `backend: ${info.gpu === false ? "CPU" : info.gpu}, ${info.threads} threads`,
  ].join("\n");
}
