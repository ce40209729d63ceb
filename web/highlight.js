// highlight: colours Python and SQL for reading (comments, strings,
// numbers, keywords). A small scanner is enough: the code is shown, never
// interpreted here, and unknown text stays plain.

const PY_KEYWORDS = new Set(("False None True and as assert async await break class continue " +
  "def del elif else except finally for from global if import in is lambda nonlocal not or " +
  "pass raise return try while with yield match case").split(" "));
const PY_BUILTINS = new Set(("print len range sum min max sorted round int float str list dict " +
  "set tuple enumerate zip abs open isinstance").split(" "));
const SQL_KEYWORDS = new Set(("select from where group by order having limit offset join left " +
  "right inner outer cross on as and or not null is in between like case when then else end " +
  "with union all distinct asc desc insert update delete create table view values over " +
  "partition window cast exists coalesce sum count avg min max strftime date round total " +
  "filter recursive using natural ifnull nullif abs substr lower upper").split(" "));

const RULES = {
  python: [
    ["comment", /#[^\n]*/y],
    ["string", /[rRbBfFuU]{0,2}("""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?)/y],
    ["number", /\b(?:0[xob][0-9a-f_]+|\d[\d_]*(?:\.\d*)?(?:e[+-]?\d+)?j?|\.\d+(?:e[+-]?\d+)?)\b/iy],
    ["word", /[A-Za-z_][A-Za-z0-9_]*/y],
  ],
  sql: [
    ["comment", /--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/y],
    ["string", /'(?:''|[^'])*'?/y],
    ["ident", /"(?:""|[^"])*"?|`[^`]*`?|\[[^\]]*\]?/y],
    ["number", /\b\d+(?:\.\d*)?(?:e[+-]?\d+)?\b|\.\d+\b/iy],
    ["word", /[A-Za-z_][A-Za-z0-9_]*/y],
  ],
};

function wordClass(word, language) {
  if (language === "sql") return SQL_KEYWORDS.has(word.toLowerCase()) ? "kw" : null;
  if (PY_KEYWORDS.has(word)) return "kw";
  return PY_BUILTINS.has(word) ? "fn" : null;
}

// Returns a fragment of text nodes and <span class="tok-…"> elements.
export function highlight(code, language) {
  const rules = RULES[language] || RULES.python;
  const out = document.createDocumentFragment();
  let plain = "";
  let i = 0;
  const flush = () => {
    if (plain) out.append(plain);
    plain = "";
  };
  while (i < code.length) {
    let matched = false;
    for (const [kind, re] of rules) {
      re.lastIndex = i;
      const m = re.exec(code);
      if (!m || m[0].length === 0) continue;
      const cls = kind === "word" ? wordClass(m[0], language) : kind;
      if (cls) {
        flush();
        const span = document.createElement("span");
        span.className = "tok-" + cls;
        span.textContent = m[0];
        out.append(span);
      } else {
        plain += m[0];
      }
      i += m[0].length;
      matched = true;
      break;
    }
    if (!matched) plain += code[i++];
  }
  flush();
  return out;
}

// An editable textarea over a highlighted copy of its text.
export function bindEditor(textarea, view, languageOf) {
  const paint = () => {
    view.replaceChildren(highlight(textarea.value + "\n", languageOf()));
  };
  textarea.addEventListener("input", paint);
  textarea.addEventListener("scroll", () => {
    view.parentElement.scrollTop = textarea.scrollTop;
    view.parentElement.scrollLeft = textarea.scrollLeft;
  });
  // Tab indents (four spaces) instead of leaving the field; Escape then
  // Tab still leaves it, so keyboard users are never trapped.
  let escaped = false;
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { escaped = true; return; }
    if (e.key === "Tab" && !e.shiftKey && !escaped && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: t } = textarea;
      textarea.setRangeText("    ", s, t, "end");
      paint();
    }
    escaped = false;
  });
  paint();
  return paint;
}
