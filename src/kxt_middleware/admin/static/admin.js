// Built from js/src/admin.js by js/build.mjs: edit the source, then run `make js`.
(() => {
  // js/src/code-name.js
  var LATIN = {
    ß: "ss",
    æ: "ae",
    Æ: "AE",
    œ: "oe",
    Œ: "OE",
    ø: "o",
    Ø: "O",
    ł: "l",
    Ł: "L",
    đ: "d",
    Đ: "D",
    ð: "d",
    Ð: "D",
    þ: "th",
    Þ: "TH",
    ı: "i"
  };
  var CODE_NAME_MAX = 100;
  var codeNameFromDisplayName = (displayName) => {
    const ascii = displayName.replace(/[ßæÆœŒøØłŁđĐðÐþÞı]/g, (letter) => LATIN[letter]).normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
    let code = ascii.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "").toLowerCase();
    if (!code) return "";
    if (!/^[a-z]/.test(code)) code = `_${code}`;
    return code.slice(0, CODE_NAME_MAX).replace(/_+$/, "");
  };

  // js/src/admin.js
  document.addEventListener("DOMContentLoaded", () => {
    const source = document.querySelector("[data-code-source]");
    const target = document.querySelector("[data-code-target]");
    if (!source || !target) return;
    let edited = target.value !== "";
    target.addEventListener("input", () => {
      edited = target.value !== "";
    });
    source.addEventListener("input", () => {
      if (!edited) target.value = codeNameFromDisplayName(source.value);
    });
  });
})();
