// WADO-RS image ids for a series of the platform's DICOMweb: one metadata request per series gives
// every instance's header, which the image loader's metadata manager keeps for Cornerstone.
// Fetching needs no Cornerstone, so the page starts it at once; registering waits for its init
// (the image loader's init empties the metadata manager).
import { wadors } from "@cornerstonejs/dicom-image-loader";

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export const DICOMWEB_ROOT = "/dicomweb";

const value = (dataset: DicomJson, tag: string): unknown => dataset[tag]?.Value?.[0];

export interface SeriesMetadata {
  base: string;
  instances: DicomJson[];
}

/** The series' instance headers, ordered by InstanceNumber (the order the case API's level indices use). */
export async function fetchSeriesMetadata(studyUid: string, seriesUid: string, signal?: AbortSignal): Promise<SeriesMetadata> {
  const base = `${window.location.origin}${DICOMWEB_ROOT}/studies/${studyUid}/series/${seriesUid}`;
  const response = await fetch(`${base}/metadata`, {
    headers: { Accept: "application/dicom+json" },
    credentials: "same-origin",
    signal,
  });
  if (!response.ok) throw new Error(`DICOMweb metadata of series ${seriesUid}: HTTP ${response.status}`);
  const instances = (await response.json()) as DicomJson[];
  instances.sort((a, b) => {
    const byNumber = Number(value(a, "00200013") ?? 0) - Number(value(b, "00200013") ?? 0);
    return byNumber || String(value(a, "00080018")).localeCompare(String(value(b, "00080018")));
  });
  return { base, instances };
}

/** wadors image ids of the series' first frames, their headers handed to the image loader. */
export function registerStack({ base, instances }: SeriesMetadata): string[] {
  return instances.map((instance) => {
    const imageId = `wadors:${base}/instances/${value(instance, "00080018")}/frames/1`;
    wadors.metaDataManager.add(imageId, instance as never);
    return imageId;
  });
}
