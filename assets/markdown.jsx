// The Markdown renderer of model output on the owner's own pages.
//
// Model output is untrusted: it is rendered with react-markdown WITHOUT rehype-raw, so raw HTML
// shows as text, unsafe URLs are dropped by react-markdown's default urlTransform, and images
// are never fetched.
import React, { memo } from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { PrismAsyncLight as SyntaxHighlighter } from "react-syntax-highlighter";
import oneLight from "react-syntax-highlighter/dist/esm/styles/prism/one-light";

export function CodeBlock({ inline, className, children, ...props }) {
  const match = /language-([\w-]+)/.exec(className || "");
  const code = String(children ?? "").replace(/\n$/, "");
  if (!match) {
    return (
      <code className={className} {...props}>
        {children}
      </code>
    );
  }
  return (
    <SyntaxHighlighter language={match[1]} style={oneLight} PreTag="div" customStyle={{ margin: "0.4em 0", fontSize: "0.85em", overflowX: "auto", maxWidth: "100%" }}>
      {code}
    </SyntaxHighlighter>
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

