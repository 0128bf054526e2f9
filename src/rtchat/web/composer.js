// The message box: Enter sends and Shift+Enter starts a line; it grows with its lines,
// counts characters near the server's limit, and offers names after `@`.

import { Completion } from './completion.js';
import { el, MAX_MESSAGE_LENGTH, setCounter, textLength } from './ui.js';

/** Why `text` cannot be sent (longer than the server takes, and by how much), or ''. */
export function overLimit(text) {
  const length = textLength(text);
  if (length <= MAX_MESSAGE_LENGTH) return '';
  return (
    `Messages can be at most ${MAX_MESSAGE_LENGTH} characters; this one has ${length}. ` +
    `Shorten it by ${length - MAX_MESSAGE_LENGTH} to send it.`
  );
}

/**
 * deps: {send(), typed(), names(), cancel(), editLast()}: send the box's text; the text
 * changed (after the counter); who `@` may offer; Escape (true if it left a reply or an
 * edit); ArrowUp in an empty box (true if it started an edit). Returns {clear(),
 * setText(text)}: empty the box after a send; put a text to edit in it.
 */
export function wireComposer({ send, typed, names, cancel, editLast }) {
  const input = el.messageInput;
  const completion = new Completion(input, el.mentionList, names);
  const changed = () => {
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight + 2}px`;
    setCounter(textLength(input.value.trim()));
  };

  input.addEventListener('keydown', (event) => {
    if (completion.handleKey(event)) return;
    if (event.key === 'Escape' && cancel()) {
      event.preventDefault();
      return;
    }
    if (event.key === 'ArrowUp' && input.value === '' && editLast()) {
      event.preventDefault();
      return;
    }
    // Enter that ends an IME composition is not a send.
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    send();
  });
  input.addEventListener('input', () => {
    changed();
    completion.update();
    typed();
  });
  input.addEventListener('click', () => completion.update());
  input.addEventListener('blur', () => completion.close());

  return {
    clear() {
      completion.close();
      input.value = '';
      changed();
    },
    setText(text) {
      completion.close();
      input.value = text;
      changed();
      input.setSelectionRange(text.length, text.length);
    },
  };
}
