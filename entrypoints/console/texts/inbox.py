"""Spanish for the inbox: the conversations, a conversation, its composer and a message's history."""

SPANISH = {
    # The list
    "Inbox": "Bandeja de entrada",
    "Conversations": "Conversaciones",
    "window closed": "ventana cerrada",
    "%(hours)s h %(minutes)s min left": "quedan %(hours)s h %(minutes)s min",
    "%(n)s unread": "%(n)s sin leer",
    "Older conversations": "Conversaciones anteriores",
    # A conversation
    "Back to the inbox": "Volver a la bandeja de entrada",
    "Session window": "Ventana de sesión",
    "Messages": "Mensajes",
    "Earlier messages": "Mensajes anteriores",
    "Customer": "Cliente",
    "You": "Usted",
    "Image sent by the customer": "Imagen enviada por el cliente",
    "The file is being downloaded.": "El archivo se está descargando.",
    "The file was not kept:": "El archivo no se guardó:",
    "Status history": "Historial de estados",
    "No messages yet.": "Todavía no hay mensajes.",
    "Message accepted for sending.": "Mensaje aceptado para su envío.",
    # Statuses
    "Scheduled": "Programado",
    "Queued": "En cola",
    "Sent": "Enviado",
    "Delivered": "Entregado",
    "Read": "Leído",
    "Failed": "Fallido",
    "Not delivered": "No entregado",
    "Received": "Recibido",
    "Canceled": "Cancelado",
    # The composer
    "Reply": "Responder",
    "Message (or the caption of a file)": "Mensaje (o el pie de un archivo)",
    "File to send, by its URL (optional)": "Archivo que enviar, por su URL (opcional)",
    "Send message": "Enviar mensaje",
    "The 24-hour session window is closed: WhatsApp delivers only approved templates until the customer writes again.": (  # noqa: E501 - the English is the key
        "La ventana de sesión de 24 horas está cerrada: WhatsApp solo entrega plantillas aprobadas hasta "
        "que el cliente vuelva a escribir."
    ),
    "Template": "Plantilla",
    "Choose template": "Elegir plantilla",
    "Value of %(name)s": "Valor de %(name)s",
    "URL of the header's file": "URL del archivo de la cabecera",
    "Send template": "Enviar plantilla",
    "This sender has no approved template. A tenant admin can create one.": (
        "Este remitente no tiene plantillas aprobadas. Un administrador de la organización puede crear una."
    ),
    # A message
    "Message": "Mensaje",
    "Direction": "Dirección",
    "Sent by you": "Enviado por ustedes",
    "Status": "Estado",
    "From": "De",
    "To": "Para",
    "Created": "Creado",
    "Received at": "Recibido el",
    "Applied": "Aplicado",
    "yes": "sí",
    "no (arrived late)": "no (llegó tarde)",
    "No status report has come for this message yet.": (
        "Todavía no ha llegado ningún informe de estado de este mensaje."
    ),
    "Back to the conversation": "Volver a la conversación",
    # Live updates
    "Live updates are on.": "Actualización en directo activada.",
    "Live updates stopped: reload the page to see new messages.": (
        "La actualización en directo se ha detenido: recargue la página para ver los mensajes nuevos."
    ),
}
