// Fill the code name from the name as the user types, until they edit the code name themselves.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.querySelector("[data-code-source]");
  const target = document.querySelector("[data-code-target]");
  if (!source || !target) return;
  let edited = target.value !== "";
  // As code_name_from_display_name in activity_types.py; "" when the name has no letter A-Z
  // or digit (e.g. Cyrillic), so the server asks for a code name instead of inventing one.
  const latin = { "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i" };
  const slug = (text) => {
    let code = text.replace(/[ßæÆœŒøØłŁđĐðÐþÞı]/g, (c) => latin[c]).normalize("NFKD")
      .replace(/[^\x00-\x7f]/g, "").replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "")
      .toLowerCase();
    if (!code) return "";
    if (!/^[a-z]/.test(code)) code = "_" + code;
    return code.slice(0, 100).replace(/_+$/, "");
  };
  target.addEventListener("input", () => { edited = target.value !== ""; });
  source.addEventListener("input", () => { if (!edited) target.value = slug(source.value); });
});
