// Progressive enhancement only: every form works without this file. (The language and
// programme switchers do not submit themselves on change: changing a select must not
// change the page under the reader, WCAG 3.2.2; they have a button.)
(function () {
  "use strict";
  document.documentElement.classList.add("js");
})();
