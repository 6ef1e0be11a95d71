// The signed-in key lives in sessionStorage only: never in a URL, a cookie or a log.
const STORAGE_KEY = 'keyplane.apiKey';

export const session = {
  get: (): string | null => sessionStorage.getItem(STORAGE_KEY),
  set: (key: string) => sessionStorage.setItem(STORAGE_KEY, key),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};
