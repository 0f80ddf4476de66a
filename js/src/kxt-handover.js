// kxt-handover.js: hands a consenting visitor over to the site's registered external sites.
//
// activity_logging_script(request, ...) adds it after kxt.js when cross-site tracking has enabled
// registered sites (and only then, so kxt.js stays within its size budget):
//
//   <script async src="P/kxt-handover.js" data-fn="kxt"
//           data-sites=" https://shop.example https://blog.example "
//           data-handover="P/cross-site/handover?to="></script>
//
// A click on a link to one of those origins, by a visitor at Visitor level or above (as kxt.js
// knows it now, after any consent given on the page), sends the link through the main site's
// hand-over endpoint, which redirects to it with a short-lived token for the site's kxt-cs.js.
// Nothing is rewritten before the click, and nothing at all below Visitor (or before kxt.js ran).

const settings = document.currentScript.dataset;

// A click, or a middle-button click (a new tab), in the capture phase: before the page's own
// handlers, and whatever they stop.
for (const type of ['click', 'auxclick']) {
  addEventListener(
    type,
    ({ target }) => {
      const link = target.closest?.('a');
      // (The stub queues the call and answers nothing: not yet known means no hand-over.)
      if (settings.sites.includes(` ${link?.origin} `) && window[settings.fn]?.('level') >= 200) {
        link.href = settings.handover + encodeURIComponent(link.href);
      }
    },
    true,
  );
}
