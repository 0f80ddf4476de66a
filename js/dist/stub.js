(()=>{var n;n=KXT_FUNCTION_NAME,window[n]=window[n]||function n(){(n.q=n.q||[]).push(arguments)}})();
