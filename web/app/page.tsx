import { SpeakDemo } from "@/components/speak-demo";

export default function Page() {
  return <SpeakDemo />;
}
