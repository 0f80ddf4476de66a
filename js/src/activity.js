// Activities as the browser endpoints take them, and how many go in one request.
// Shared by the tracker core and by the inline stub that sends on leave.

// The server takes at most 20 activities in one request.
export const MAX_ACTIVITIES = 20;
// A keepalive fetch or a beacon may not carry more than 64 KiB: stay clear of it.
export const MAX_BYTES = 60000;

/** The text of an optional field: '' for null or undefined (as in an array's text). */
export const text = (value) => `${[value]}`;

/**
 * A random UUID v4: the File API ends every blob URL with one. (crypto.randomUUID exists only in
 * secure contexts.) The URL is not revoked: it holds an empty Blob until the page is left.
 */
export const newId = () => URL.createObjectURL(new Blob()).slice(-36);

/** A new activity on the current page, of the type, value and title `details` gives. */
export const newActivity = ({ type, value, title }) => ({
  id: newId(),
  type: text(type),
  value: text(value),
  title: text(title),
  url: document.URL,
  referrer: document.referrer,
});

/**
 * How many of the first `activities` go in the next request: at most MAX_ACTIVITIES and under
 * MAX_BYTES of JSON; at least one (a single larger activity goes alone, and its failure is
 * reported).
 */
export const batchSize = (activities) => {
  let size = 1;
  while (
    size < MAX_ACTIVITIES &&
    size < activities.length &&
    new Blob([JSON.stringify(activities.slice(0, size + 1))]).size < MAX_BYTES
  ) {
    size++;
  }
  return size;
};
