// Name completion in the composer: typing `@` and the start of a name offers the
// people online whose name starts so; arrows move, Enter or Tab takes one, Escape
// closes. The composer asks `handleKey` first, so Enter picks a name rather than send.

import { node } from './ui.js';

const MAX_OFFERED = 6;
const MENTION = /(^|\s)@([^\s@]*)$/;

export class Completion {
  #input;
  #list;
  #names;
  #offered = [];
  #active = 0;

  /** input: the textarea; list: the (empty) listbox; names(): who may be offered. */
  constructor(input, list, names) {
    this.#input = input;
    this.#list = list;
    this.#names = names;
    list.addEventListener('mousedown', (event) => {
      const option = event.target.closest('[data-name]');
      if (!option) return;
      event.preventDefault(); // keep the focus (and the caret) in the composer
      this.#accept(option.dataset.name);
    });
  }

  get open() {
    return this.#offered.length > 0;
  }

  /** The text or the caret changed: offer names for an `@` word being typed. */
  update() {
    const before = this.#input.value.slice(0, this.#input.selectionStart);
    const found = before.match(MENTION);
    const prefix = found?.[2].toLowerCase();
    const offered =
      prefix == null
        ? []
        : this.#names()
            .filter((name) => name.toLowerCase().startsWith(prefix))
            .sort((a, b) => a.localeCompare(b))
            .slice(0, MAX_OFFERED);
    if (offered.join('\n') !== this.#offered.join('\n')) this.#active = 0;
    this.#offered = offered;
    this.#render();
  }

  close() {
    this.#offered = [];
    this.#render();
  }

  /** A keydown in the composer: true when it was ours (the composer must not act on it). */
  handleKey(event) {
    if (!this.open) return false;
    const n = this.#offered.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      this.#active = (this.#active + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.#render();
    } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
      this.#accept(this.#offered[this.#active]);
    } else if (event.key === 'Escape') {
      this.close();
    } else return false;
    event.preventDefault();
    return true;
  }

  #accept(name) {
    const input = this.#input;
    const caret = input.selectionStart;
    const before = input.value.slice(0, caret).replace(MENTION, (_, space) => `${space}@${name} `);
    input.value = before + input.value.slice(caret);
    input.setSelectionRange(before.length, before.length);
    this.close();
    input.dispatchEvent(new Event('input')); // the counter and typing see it
  }

  #render() {
    const list = this.#list;
    list.hidden = !this.open;
    list.replaceChildren(
      ...this.#offered.map((name, i) => {
        const li = node('li', 'mentions__option', `@${name}`);
        li.dataset.name = name;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', String(i === this.#active));
        return li;
      }),
    );
  }
}
