export declare const SOURCE_DIRS: string[];
export declare function distIsFresh(): boolean;
export declare function load(src: string): Promise<Record<string, unknown>>;
