// The queue stub: until the script runs, calls of window[name] wait in window[name].q.

/** Define window[name] as a queue, unless something already owns the name; return it. */
export const defineQueue = (name) =>
  (window[name] =
    window[name] ||
    function queue() {
      queue.q = queue.q || [];
      // biome-ignore lint/complexity/noArguments: the script replays them as given
      queue.q.push(arguments);
    });
