export declare const ROOT: string;
/** Whether dist/<entry> exists and is at least as new as every file under src/. */
export declare function compiledIsCurrent(entry: string): boolean;
