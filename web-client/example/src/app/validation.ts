// Client-side validation is its own entry point, loaded on demand: the app's
// initial bundle holds only the small core. The first time the form is used
// (focus), the component calls this; the client uses the same loader, so the
// chunk is fetched once.
export const loadValidation = () => import("@lktoken/web-client/validation");
