// The Markdown renderer of model output on the owner's own pages.
//
// Model output is untrusted: it is rendered with react-markdown WITHOUT rehype-raw, so raw HTML
// shows as text, unsafe URLs are dropped by react-markdown's default urlTransform, and images
// are never fetched.
import React, { memo, useState } from "react";
import { i18nT, useI18nLang } from "./i18n.js";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { PrismAsyncLight as SyntaxHighlighter } from "react-syntax-highlighter";
import oneLight from "react-syntax-highlighter/dist/esm/styles/prism/one-light";

// Copies `text`; the async Clipboard API needs a secure context (https or localhost), so a plain
// http deployment falls back to the older execCommand way.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

// A small button that copies `text` and says so for a moment ("Copied"), also to screen readers.
export function CopyButton({ text, label, className }) {
  const lang = useI18nLang();
  const [copied, setCopied] = useState(false);
  const onClick = async () => {
    await copyText(text);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" className={`llm-copy ${className || ""}`} aria-label={label} title={label} onClick={onClick}>
      <span aria-live="polite">{copied ? i18nT(lang, "Copied") : i18nT(lang, "Copy")}</span>
    </button>
  );
}

export function CodeBlock({ inline, className, children, ...props }) {
  const lang = useI18nLang();
  const match = /language-([\w-]+)/.exec(className || "");
  const code = String(children ?? "").replace(/\n$/, "");
  if (!match) {
    return (
      <code className={className} {...props}>
        {children}
      </code>
    );
  }
  // A code block scrolls sideways on its own: the wrapper is the scroller (the highlighter's
  // box does not scroll), focusable (tabIndex) and named, so a keyboard reaches and scrolls it;
  // its copy button copies the code as the model wrote it.
  const name = i18nT(lang, "Code: {language}", { language: match[1] });
  return (
    <div className="llm-code">
      <CopyButton text={code} label={i18nT(lang, "Copy code")} className="llm-copy-code" />
      <div role="group" aria-label={name} tabIndex={0} className="llm-code-scroll">
        <SyntaxHighlighter language={match[1]} style={oneLight} PreTag="div" customStyle={{ margin: "0.4em 0", fontSize: "0.85em", overflow: "visible", maxWidth: "none" }}>
          {code}
        </SyntaxHighlighter>
      </div>
    </div>
  );
}

function SafeImage({ alt }) {
  return <span className="llm-image-placeholder">[image{alt ? `: ${alt}` : ""}]</span>;
}

function SafeLink({ href, children }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

const markdownComponents = { code: CodeBlock, img: SafeImage, a: SafeLink };

const MarkdownBlock = memo(function MarkdownBlock({ text }) {
  return (
    <ReactMarkdown remarkPlugins={[remarkGfm]} skipHtml={false} components={markdownComponents}>
      {text}
    </ReactMarkdown>
  );
});

// Split at blank lines outside code fences.  Finished blocks keep their text, so
// their memoised renders are reused and each flush re-parses only the last block:
// rendering stays linear in the answer's length instead of quadratic.
function splitBlocks(text) {
  const blocks = [];
  let start = 0;
  let inFence = false;
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd);
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    else if (!inFence && line.trim() === "" && lineStart > start) {
      blocks.push(text.slice(start, lineEnd + 1));
      start = lineEnd + 1;
    }
    lineStart = lineEnd + 1;
  }
  if (start < text.length) blocks.push(text.slice(start));
  return blocks;
}

export function Markdown({ text }) {
  const blocks = splitBlocks(text);
  return blocks.map((block, index) => <MarkdownBlock key={index} text={block} />);
}

