// The share page's stricter Markdown renderer for saved output.
//
// Anyone may open a share link, so its answers get a stricter renderer than the
// owner's own page: links only to http(s) or mail, and images only from the hosts
// the deployment allows (IMAGE_HOST_ALLOWLIST); any other image shows its alt
// text, so a hostile answer cannot make a visitor's browser fetch a tracker.
import React from "react";
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import { CodeBlock } from "./markdown.jsx";

const SHARED_LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const SHARED_IMAGE_PROTOCOLS = new Set(["http:", "https:"]);

function absoluteUrl(value) {
  try {
    return new URL(String(value || "").trim()); // relative or malformed: none
  } catch {
    return null;
  }
}

// The checked URL is returned normalised, so the browser gets exactly what was checked.
export function sharedUrlTransform(value, key) {
  const url = absoluteUrl(value);
  const allowed = key === "src" ? SHARED_IMAGE_PROTOCOLS : SHARED_LINK_PROTOCOLS;
  return url && allowed.has(url.protocol) ? url.href : "";
}

function SharedLink({ href, children }) {
  if (!href) return <span className="llm-inert-link">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  );
}

function SharedImage({ src, alt, hosts }) {
  const url = src ? absoluteUrl(src) : null;
  if (url && hosts.has(url.hostname.toLowerCase())) {
    return <img src={url.href} alt={alt || ""} loading="lazy" referrerPolicy="no-referrer" style={{ maxWidth: "100%" }} />;
  }
  return (
    <span className="llm-image-placeholder" title="Image not shown: its host is not allowed">
      {alt || "[image]"}
    </span>
  );
}

export function SafeMarkdown({ text, imageHosts, height, label, ...rest }) {
  const hostsKey = (imageHosts || []).join("\n");
  const components = React.useMemo(() => {
    const hosts = new Set(hostsKey ? hostsKey.split("\n").map((h) => h.trim().toLowerCase()) : []);
    return { code: CodeBlock, a: SharedLink, img: ({ src, alt }) => <SharedImage src={src} alt={alt} hosts={hosts} /> };
  }, [hostsKey]);
  return (
    // A named region a keyboard can focus and scroll, as the compare page's answers.
    <div className="llm-pane-body" style={{ height, overflowY: "auto" }} role="region" aria-label={label} tabIndex={0} {...rest}>
      <ReactMarkdown remarkPlugins={[remarkGfm]} skipHtml={false} urlTransform={sharedUrlTransform} components={components}>
        {text || ""}
      </ReactMarkdown>
    </div>
  );
}
