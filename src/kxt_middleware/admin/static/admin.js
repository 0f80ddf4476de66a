// Fill the code name from the name as the user types, until they edit the code name themselves.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.querySelector("[data-code-source]");
  const target = document.querySelector("[data-code-target]");
  if (!source || !target) return;
  let edited = target.value !== "";
  const slug = (text) => {
    let code = text.normalize("NFKD").replace(/[^\x00-\x7f]/g, "")
      .replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "").toLowerCase();
    if (!code || !/^[a-z_]/.test(code)) code = "_" + code;
    return code.slice(0, 100).replace(/_+$/, "") || "_";
  };
  target.addEventListener("input", () => { edited = target.value !== ""; });
  source.addEventListener("input", () => { if (!edited) target.value = slug(source.value); });
});
