// Type-ahead comboboxes (ARIA 1.2 combobox + listbox pattern) over htmx-loaded suggestions.
// The page works without this script: typing a value and pressing "Add" submits the same form.
(function () {
  "use strict";

  function listFor(input) {
    return document.getElementById(input.getAttribute("aria-controls"));
  }

  function options(list) {
    return Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
  }

  function close(input) {
    var list = listFor(input);
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    if (list) {
      list.hidden = true;
      options(list).forEach(function (o) { o.setAttribute("aria-selected", "false"); });
    }
  }

  function highlight(input, index) {
    var opts = options(listFor(input));
    opts.forEach(function (o, j) { o.setAttribute("aria-selected", j === index ? "true" : "false"); });
    if (index >= 0 && opts[index]) {
      input.setAttribute("aria-activedescendant", opts[index].id);
      opts[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function activeIndex(input) {
    var id = input.getAttribute("aria-activedescendant");
    return options(listFor(input)).findIndex(function (o) { return o.id === id; });
  }

  function choose(input, option) {
    input.value = option.getAttribute("data-value");
    close(input);
    var button = document.getElementById(input.getAttribute("data-submit"));
    if (input.form) { input.form.requestSubmit(button || undefined); }
  }

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input || input.getAttribute("role") !== "combobox") { return; }
    var list = listFor(input);
    var opts = list ? options(list) : [];
    var open = input.getAttribute("aria-expanded") === "true" && opts.length > 0;
    var i = activeIndex(input);
    if (event.key === "ArrowDown" && opts.length) {
      event.preventDefault();
      input.setAttribute("aria-expanded", "true");
      list.hidden = false;
      highlight(input, Math.min(i + 1, opts.length - 1));
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      highlight(input, Math.max(i - 1, 0));
    } else if (event.key === "Enter" && open && i >= 0) {
      event.preventDefault();
      choose(input, opts[i]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      close(input);
    }
  });

  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest("[role=option]");
    if (!option) { return; }
    var input = document.querySelector("[aria-controls='" + option.parentNode.id + "']");
    if (input) {
      event.preventDefault();
      choose(input, option);
    }
  });

  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input && input.getAttribute && input.getAttribute("role") === "combobox") {
      window.setTimeout(function () { if (document.activeElement !== input) { close(input); } }, 150);
    }
  });

  // suggestions arrived: show them (or hide an empty list) and announce nothing selected yet
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (!list || list.getAttribute("role") !== "listbox") { return; }
    var input = document.querySelector("[aria-controls='" + list.id + "']");
    if (!input) { return; }
    var has = options(list).length > 0;
    list.hidden = !has;
    input.setAttribute("aria-expanded", has ? "true" : "false");
    input.removeAttribute("aria-activedescendant");
  });
})();
